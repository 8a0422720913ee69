// Semaphore and BoundedSemaphore (gevent.lock.Semaphore, BoundedSemaphore).
//
//   greenhub::Semaphore slots(3);
//   slots.acquire();            // waits while the counter is 0
//   ...
//   slots.release();
//   std::lock_guard guard(slots);   // lock()/unlock() make it BasicLockable
//
// How it works
//   counter() permits are free. acquire() takes one, or queues the greenlet
//   (FIFO) until release() hands it one. release() gives its permit
//   directly to the oldest waiting acquirer (WaiterQueue grant), so the
//   counter stays 0 and a greenlet that calls acquire() meanwhile cannot
//   overtake the queue; only with no acquirer waiting does the counter grow.
//   wait() waits for a free permit without taking it.
//
// Invariants
//   - counter() > 0 implies no acquirer is waiting (except ones that have
//     already stopped waiting and have not run yet).
//   - A BoundedSemaphore's counter never exceeds its initial value: a
//     release() that would exceed it throws std::logic_error (gevent raises
//     ValueError) and changes nothing.
//   - Belongs to one hub; takes no lock.
#pragma once

#include <optional>

#include "greenhub/runtime.hpp"
#include "greenhub/waiter_queue.hpp"

namespace greenhub {

class Semaphore {
 public:
  // Throws std::invalid_argument for a negative value.
  explicit Semaphore(int value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Takes a permit. With blocking, waits up to `timeout` (forever if none)
  // for one; returns false if none was obtained. Throws the greenlet's kill
  // or Timeout while waiting (no permit is then taken).
  bool acquire(bool blocking = true, std::optional<Duration> timeout = std::nullopt);
  // Returns a permit: to the oldest waiter if any, else to the counter.
  void release();

  int counter() const { return counter_; }
  // True when acquire() would have to wait.
  bool locked() const { return counter_ <= 0; }
  // Waits until a permit is free, without taking it, up to `timeout`.
  // Returns the counter (0 if the timeout passed first).
  int wait(std::optional<Duration> timeout = std::nullopt);

  // BasicLockable / Lockable, for std::lock_guard and std::unique_lock.
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }

 protected:
  // A bounded semaphore; release() beyond `value` throws `over_release`.
  Semaphore(int value, const char* over_release);

 private:
  int counter_;
  int initial_;
  const char* over_release_ = nullptr;  // non-null: bounded
  WaiterQueue acquirers_;
  WaiterQueue available_waiters_;  // wait(): woken when the counter rises
};

class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1);

 protected:
  BoundedSemaphore(int value, const char* over_release) : Semaphore(value, over_release) {}
};

}  // namespace greenhub
