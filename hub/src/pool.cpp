#include "greenhub/pool.hpp"

#include <stdexcept>

namespace greenhub {

namespace {

size_t checked_pool_size(size_t size) {
  if (size == 0) throw std::invalid_argument("greenhub: a Pool needs a size of at least 1");
  return size;
}

}  // namespace

Pool::Pool(size_t size) : Group(checked_pool_size(size)) {}

}  // namespace greenhub
