#include "greenhub/lock.hpp"

#include <stdexcept>

namespace greenhub {

namespace {

uint64_t current_id() { return Hub::current().current_greenlet()->id(); }

}  // namespace

bool RLock::acquire(bool blocking, std::optional<Duration> timeout) {
  const uint64_t me = current_id();
  if (owner_ == me) {
    ++count_;
    return true;
  }
  if (!lock_.acquire(blocking, timeout)) return false;
  owner_ = me;
  count_ = 1;
  return true;
}

void RLock::release() {
  if (owner_ != current_id()) {
    throw std::logic_error("greenhub: cannot release an RLock the current greenlet does not own");
  }
  if (--count_ == 0) {
    owner_ = 0;
    lock_.release();
  }
}

bool RLock::is_owned() const { return owner_ != 0 && owner_ == current_id(); }

int RLock::release_save() {
  if (owner_ != current_id()) {
    throw std::logic_error("greenhub: cannot release an RLock the current greenlet does not own");
  }
  const int count = count_;
  count_ = 0;
  owner_ = 0;
  lock_.release();
  return count;
}

void RLock::acquire_restore(int count) {
  lock_.acquire();
  owner_ = current_id();
  count_ = count;
}

}  // namespace greenhub
