// ParkingLot: blocking on an address, for green threads and real threads
// alike. Every green pthread primitive (mutex, condvar, rwlock, semaphore,
// barrier, once, join) is a word in the program's memory plus this.
//
// How it works (after WebKit's ParkingLot and Go's semaphore table)
//   A fixed table of buckets, each a SpinLock and a FIFO of waiters, hashed
//   by address. park(addr, validate, deadline) locks the bucket, runs
//   `validate` (typically "the word still says I must wait"), and only then
//   queues a Waiter on the caller's stack and sleeps: a green thread parks
//   on its hub, a real thread (one the preload did not make green: libc's
//   helper threads, ThreadPool workers, any thread before start-up) waits on
//   a futex word inside its Waiter. unpark_one/unpark_all dequeue under the
//   bucket lock and wake each waiter in the way it sleeps. Because the
//   validation and the queueing happen under the same lock as the
//   unparking, no wake-up between "check the word" and "sleep" is lost.
//
// Invariants
//   - One protocol for all threads: a mutex locked by a green thread can be
//     waited for by a real thread and vice versa.
//   - A green waiter is woken under the bucket lock, so its greenlet is
//     alive when woken; a waiter that timed out or was interrupted removes
//     itself under the lock, and an unpark_one that finds its wake refused
//     (the waiter is already leaving) moves on to the next waiter: no
//     unpark is lost.
//   - Nothing here calls a function the preload interposes.
#pragma once

#include <cstddef>

#include "deadline.hpp"

namespace greenhub::preload {

enum class ParkResult {
  kUnparked,     // an unpark woke us
  kTimedOut,     // the deadline passed
  kInvalid,      // validate() said not to wait
  kInterrupted,  // a green thread was interrupted (cancellation): treat as spurious
};

class ParkingLot {
 public:
  template <class Validate>
  static ParkResult park(const void* address, Validate&& validate,
                         const AbsDeadline& deadline = AbsDeadline::never()) {
    return park_impl(
        address, [](void* ctx) { return (*static_cast<std::remove_reference_t<Validate>*>(ctx))(); },
        &validate, deadline);
  }
  // Wakes the first waiter on address; returns whether there was one.
  static bool unpark_one(const void* address);
  // Wakes up to `count` waiters; returns how many were woken.
  static size_t unpark_some(const void* address, size_t count);
  static size_t unpark_all(const void* address) { return unpark_some(address, SIZE_MAX); }

  // In a child made by fork(): every waiter belonged to a thread that does
  // not exist there (the forking thread was running, not parked), and a
  // bucket lock may have been held by one: all buckets become empty and
  // unlocked.
  static void reset_in_forked_child();

 private:
  static ParkResult park_impl(const void* address, bool (*validate)(void*), void* ctx,
                              const AbsDeadline& deadline);
};

}  // namespace greenhub::preload
