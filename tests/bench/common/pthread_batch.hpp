// The pthread baseline shared by the spawn benchmarks: `count` times,
// pthread_create of a function that bumps `*ran` and returns, then
// pthread_join. Returns ns per create+join. (The hub's spawn benchmark
// runs it natively beside greenlets; the preload's create_join runs the
// same loop natively and under LD_PRELOAD.)
#pragma once

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "measure.hpp"

namespace bench {

inline void* bump_and_return(void* ran) {
  ++*static_cast<long*>(ran);  // read by the creator after pthread_join only
  return nullptr;
}

inline double pthread_create_join_ns(long count, long* ran) {
  const int64_t start = now_ns();
  for (long i = 0; i < count; ++i) {
    pthread_t t;
    if (int rc = pthread_create(&t, nullptr, bump_and_return, ran); rc != 0) {
      std::fprintf(stderr, "pthread_create: %s\n", std::strerror(rc));
      std::exit(1);
    }
    pthread_join(t, nullptr);
  }
  return static_cast<double>(now_ns() - start) / static_cast<double>(count);
}

}  // namespace bench
