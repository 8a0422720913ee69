// Green condition variables: pthread_cond_{init,destroy,wait,timedwait,
// clockwait,signal,broadcast}. Defined without a symbol version, so that a
// binary's references to both pthread_cond_*@GLIBC_2.3.2 and the old
// pthread_cond_*@GLIBC_2.2.5 bind here.
//
// How it works
//   A condvar is a sequence word and glibc's waiter count, inside the
//   program's pthread_cond_t:
//     __wseq (low 32 bits)  the sequence: signal and broadcast bump it, then
//               unpark one / all waiters parked on its address.
//     __wrefs   glibc's word, kept with glibc's meaning so that libc's
//               pthread_cond_init (which init calls) and static
//               initializers work: bit 0 process-shared, bit 1 the clock
//               (CLOCK_MONOTONIC when set), bit 2 "destroy is waiting",
//               bits 3 and up the waiters inside a wait.
//   A waiter reads the sequence while it holds the mutex, registers in
//   __wrefs, releases the mutex, and parks while the sequence is unchanged.
//   A signal that comes after the read either changes the sequence before
//   the waiter's validation (the waiter does not sleep) or finds the waiter
//   queued (and wakes it): no wake-up is lost. Wake-ups may be spurious, as
//   POSIX allows. signal/broadcast without waiters touch nothing but a load.
//   The mutex is released and taken back as glibc's condvar does (see
//   pthread_mutex.hpp).
//   Process-shared condvars are libc's, whole.
//
// Cancellation
//   wait, timedwait and clockwait are cancellation points. A pending
//   cancellation at entry acts with the mutex held; one that arrives while
//   the green thread is parked (pthread_cancel interrupts the park) acts
//   after the mutex has been taken back, as POSIX requires, so that the
//   cleanup handlers run with it locked. A waiter woken by a signal returns
//   normally and leaves the cancellation to the next cancellation point, so
//   that no signal is consumed by a thread that then exits.
//
// Invariants
//   - A waiter stops touching the condvar when it leaves __wrefs; destroy
//     waits for that (glibc's contract: a condvar may be destroyed as soon
//     as no thread is blocked on it, even before woken waiters return).
//   - signal/broadcast touch the condvar only before their unpark, which
//     needs only the address.
#include <pthread.h>

#include <cerrno>
#include <cstdint>

#include "busy_poll.hpp"
#include "parking_lot.hpp"
#include "pthread_mutex.hpp"
#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

constexpr unsigned kShared = 1;
constexpr unsigned kMonotonic = 2;
constexpr unsigned kDestroyWaiting = 4;
constexpr unsigned kOneWaiter = 8;

inline unsigned* sequence_word(pthread_cond_t* c) { return &c->__data.__wseq.__value32.__low; }
inline unsigned* refs_word(pthread_cond_t* c) { return &c->__data.__wrefs; }
inline unsigned load_refs(pthread_cond_t* c) { return __atomic_load_n(refs_word(c), __ATOMIC_RELAXED); }
inline bool is_shared(pthread_cond_t* c) { return (load_refs(c) & kShared) != 0; }

// Leaves the condvar's waiters; wakes a destroy waiting for the last one.
inline void leave(pthread_cond_t* c) {
  unsigned* refs = refs_word(c);
  const unsigned before = __atomic_fetch_sub(refs, kOneWaiter, __ATOMIC_RELEASE);
  if ((before >> 3) == 1 && (before & kDestroyWaiting) != 0) ParkingLot::unpark_all(refs);
}

int wait_green(pthread_cond_t* c, pthread_mutex_t* m, const timespec* abstime, clockid_t clock) {
  cancellation_point();  // acts with the mutex held, as glibc's state after its cleanup
  WaitingOn label("pthread_cond_wait");
  unsigned* seq_word = sequence_word(c);
  const unsigned seq = __atomic_load_n(seq_word, __ATOMIC_ACQUIRE);
  __atomic_fetch_add(refs_word(c), kOneWaiter, __ATOMIC_ACQ_REL);
  if (int rc = mutex_release_for_wait(m); rc != 0) {
    leave(c);
    return rc;
  }
  AbsDeadline deadline;
  int result = blocking_deadline(abstime, clock, &deadline);
  while (result == 0) {
    if (deadline.expired()) {
      result = ETIMEDOUT;
      break;
    }
    ParkResult r = ParkingLot::park(
        seq_word, [&] { return __atomic_load_n(seq_word, __ATOMIC_ACQUIRE) == seq; }, deadline);
    if (r == ParkResult::kTimedOut) result = ETIMEDOUT;
    if (r != ParkResult::kInterrupted) break;
    if (green_cancel_requested()) {
      leave(c);
      mutex_reacquire_after_wait(m);
      cancellation_point();  // does not return
    }
  }
  leave(c);
  if (int rc = mutex_reacquire_after_wait(m); rc != 0) return rc;
  // A real thread's cancellation that arrived while it waited.
  if (GreenThread::current() == nullptr) cancellation_point();
  return result;
}

inline void wake(pthread_cond_t* c, size_t count) {
  if ((load_refs(c) >> 3) == 0) return;
  __atomic_fetch_add(sequence_word(c), 1u, __ATOMIC_ACQ_REL);
  ParkingLot::unpark_some(sequence_word(c), count);
}

}  // namespace

extern "C" {

// libc's init writes glibc's layout (the clock and process-shared bits).
int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* attr) {
  return GREENHUB_REAL(pthread_cond_init)(c, attr);
}

int pthread_cond_destroy(pthread_cond_t* c) {
  if (is_shared(c)) return GREENHUB_REAL(pthread_cond_destroy)(c);
  unsigned* refs = refs_word(c);
  __atomic_fetch_or(refs, kDestroyWaiting, __ATOMIC_ACQ_REL);
  while ((__atomic_load_n(refs, __ATOMIC_ACQUIRE) >> 3) != 0) {
    ParkingLot::park(refs, [refs] { return (__atomic_load_n(refs, __ATOMIC_ACQUIRE) >> 3) != 0; });
  }
  return 0;
}

int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  if (is_shared(c)) return GREENHUB_REAL(pthread_cond_wait)(c, m);
  return wait_green(c, m, nullptr, CLOCK_REALTIME);
}

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* abstime) {
  if (is_shared(c)) return GREENHUB_REAL(pthread_cond_timedwait)(c, m, abstime);
  if (!valid_timespec(*abstime)) return EINVAL;
  return wait_green(c, m, abstime, (load_refs(c) & kMonotonic) ? CLOCK_MONOTONIC : CLOCK_REALTIME);
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                           const struct timespec* abstime) {
  if (is_shared(c)) return GREENHUB_REAL(pthread_cond_clockwait)(c, m, clock, abstime);
  if (!valid_timespec(*abstime)) return EINVAL;
  if (!futex_clock_supported(clock)) return EINVAL;
  return wait_green(c, m, abstime, clock);
}

int pthread_cond_signal(pthread_cond_t* c) {
  if (is_shared(c)) return GREENHUB_REAL(pthread_cond_signal)(c);
  wake(c, 1);
  note_running();
  return 0;
}

int pthread_cond_broadcast(pthread_cond_t* c) {
  if (is_shared(c)) return GREENHUB_REAL(pthread_cond_broadcast)(c);
  wake(c, SIZE_MAX);
  note_running();
  return 0;
}

}  // extern "C"
