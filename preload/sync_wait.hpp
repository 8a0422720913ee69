// What the green synchronization shims (mutex, cond, rwlock, sem, barrier,
// once, spin) share: glibc's deadline checks, cancellation points, and the
// label a parked green thread shows to introspection.
//
// All of them keep the program's object in glibc's layout and wait on the
// ParkingLot, so that green threads, main() and real threads (the ones the
// preload did not make green) block on, and wake each other through, the
// same objects.
//
// Limits (documented, tested where they hold)
//   - Objects that must work across processes or with the kernel's help
//     stay libc's, untouched: robust, priority-inheritance and
//     priority-protection mutexes, and process-shared mutexes, condvars,
//     rwlocks, barriers and semaphores (sem_open's included). libc knows
//     threads by kernel tid, which all green threads of one hub share: for
//     these objects they count as one thread (a green thread blocking in
//     one blocks its hub; a robust mutex is not recovered when a green
//     thread exits holding it).
//   - A real thread blocked in a green primitive acts on pthread_cancel
//     only on entry and once woken (the ParkingLot's futex wait is not one
//     of libc's cancellable system calls); green threads are cancelled
//     while parked.
//   - sem_wait does not return EINTR when a signal handler runs during the
//     wait; the wait goes on (as the sleeps do, see sleep.cpp).
//   - Adaptive mutexes do not spin before parking.
#pragma once

#include <time.h>

#include <cerrno>

#include "deadline.hpp"
#include "green_thread.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {

// The clocks glibc accepts for its futex-based timed waits.
inline bool futex_clock_supported(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC;
}

// The deadline of a wait that must block now, checked as glibc's futex
// wrappers check it at that point: no abstime waits forever, a negative
// tv_sec has passed (ETIMEDOUT, before any look at tv_nsec), a tv_nsec
// outside [0, 1e9) is EINVAL. Returns 0 and fills *deadline, or the error.
inline int blocking_deadline(const timespec* abstime, clockid_t clock, AbsDeadline* deadline) {
  if (abstime == nullptr) {
    *deadline = AbsDeadline::never();
    return 0;
  }
  if (abstime->tv_sec < 0) return ETIMEDOUT;
  if (!valid_timespec(*abstime)) return EINVAL;
  *deadline = AbsDeadline::at(clock, *abstime);
  return 0;
}

// Whether the calling green thread has a pending, enabled cancellation
// (false for every other caller).
inline bool green_cancel_requested() {
  GreenThread* self = GreenThread::current();
  return self != nullptr && self->cancel_requested();
}

// A cancellation point: acts on a pending, enabled cancellation of the
// caller (never returns then). A green thread is cancelled by the preload;
// any other caller asks libc. A real thread blocked in a green primitive
// acts on its cancellation only here, on entry and after it is woken (the
// ParkingLot's futex wait is not one of libc's cancellable syscalls).
inline void cancellation_point() {
  if (GreenThread* self = GreenThread::current()) {
    self->test_cancel();
    return;
  }
  // Only an OS thread's own stack may be unwound by libc: a real thread, or
  // the main greenlet (main() on hub 0); never an API greenlet's stack.
  Hub* hub = Hub::current_if_exists();
  if (hub == nullptr || hub->current_greenlet()->is_main()) GREENHUB_REAL(pthread_testcancel)();
}

// Labels, for its lifetime, what the calling green thread waits on (the
// blocking monitor and greentop show it). No-op for real threads.
class WaitingOn {
 public:
  explicit WaitingOn(const char* what) {
    if (green_hub() == nullptr) return;
    greenlet_ = Hub::current_if_exists()->current_greenlet();
    previous_ = greenlet_->waiting_on();
    greenlet_->set_waiting_on(what);
  }
  ~WaitingOn() {
    if (greenlet_ != nullptr) greenlet_->set_waiting_on(previous_);
  }
  WaitingOn(const WaitingOn&) = delete;
  WaitingOn& operator=(const WaitingOn&) = delete;

 private:
  GreenletBase* greenlet_ = nullptr;
  const char* previous_ = nullptr;
};

}  // namespace greenhub::preload
