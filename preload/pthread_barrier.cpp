// Green barriers: pthread_barrier_{init,wait,destroy}.
//
// How it works
//   The barrier lives in the program's pthread_barrier_t, in the place of
//   glibc's fields (libc's pthread_barrier_init writes them and checks the
//   count; all zero but `count` and `shared` for a fresh barrier):
//     in + current_round (one 64-bit word, the park word): the threads
//               arrived in this round (low half) and the round number (high
//               half), changed together by one CAS.
//     count     threads per round.
//     shared    non-zero for a process-shared barrier: libc's, whole.
//     out       threads still inside wait (arrived and not yet returned).
//   The thread whose arrival completes the round (the last, as in glibc)
//   starts the next round in the same CAS, unparks the others and returns
//   PTHREAD_BARRIER_SERIAL_THREAD; the others park until the round number
//   changes and return 0.
//
// Invariants
//   - A waiter touches the barrier only while counted in `out`; destroy
//     waits until `out` is 0, so the serial thread may destroy the barrier
//     while the others are still on their way out (glibc's contract).
//   - Not a cancellation point (as POSIX): an interrupted park parks again.
#include <pthread.h>

#include <cerrno>
#include <cstdint>

#include "parking_lot.hpp"
#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

struct BarrierLayout {
  uint64_t round_and_arrived;  // glibc's `in` (low) and `current_round` (high)
  unsigned count;
  int shared;
  unsigned inside;             // glibc's `out`
};
static_assert(sizeof(BarrierLayout) <= sizeof(pthread_barrier_t));
static_assert(alignof(pthread_barrier_t) >= alignof(uint64_t));

inline BarrierLayout* layout(pthread_barrier_t* b) { return reinterpret_cast<BarrierLayout*>(b); }
inline bool is_shared(pthread_barrier_t* b) {
  return __atomic_load_n(&layout(b)->shared, __ATOMIC_RELAXED) != 0;
}

inline void leave(BarrierLayout* b) {
  unsigned* inside = &b->inside;
  if (__atomic_fetch_sub(inside, 1u, __ATOMIC_ACQ_REL) == 1) ParkingLot::unpark_all(inside);
}

}  // namespace

extern "C" {

int pthread_barrier_init(pthread_barrier_t* b, const pthread_barrierattr_t* attr, unsigned count) {
  return GREENHUB_REAL(pthread_barrier_init)(b, attr, count);
}

int pthread_barrier_wait(pthread_barrier_t* barrier) {
  if (is_shared(barrier)) return GREENHUB_REAL(pthread_barrier_wait)(barrier);
  BarrierLayout* b = layout(barrier);
  __atomic_fetch_add(&b->inside, 1u, __ATOMIC_ACQ_REL);
  uint64_t* word = &b->round_and_arrived;
  const uint64_t count = b->count;
  uint64_t w = __atomic_load_n(word, __ATOMIC_ACQUIRE);
  uint64_t next;
  bool last;
  do {
    last = (w & 0xffffffffull) + 1 == count;
    next = last ? ((w >> 32) + 1) << 32 : w + 1;
  } while (!__atomic_compare_exchange_n(word, &w, next, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
  if (last) {
    ParkingLot::unpark_all(word);
    leave(b);
    return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  const uint64_t round = w >> 32;
  WaitingOn label("pthread_barrier_wait");
  while ((__atomic_load_n(word, __ATOMIC_ACQUIRE) >> 32) == round) {
    ParkingLot::park(word, [word, round] { return (__atomic_load_n(word, __ATOMIC_ACQUIRE) >> 32) == round; });
  }
  leave(b);
  return 0;
}

int pthread_barrier_destroy(pthread_barrier_t* barrier) {
  if (is_shared(barrier)) return GREENHUB_REAL(pthread_barrier_destroy)(barrier);
  unsigned* inside = &layout(barrier)->inside;
  while (__atomic_load_n(inside, __ATOMIC_ACQUIRE) != 0) {
    ParkingLot::park(inside, [inside] { return __atomic_load_n(inside, __ATOMIC_ACQUIRE) != 0; });
  }
  return 0;
}

}  // extern "C"
