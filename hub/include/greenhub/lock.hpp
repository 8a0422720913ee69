// Lock and RLock (gevent.lock / gevent.thread's lock types).
//
//   greenhub::Lock lock;           // not reentrant, not owned
//   std::lock_guard guard(lock);   // or lock.acquire() / lock.release()
//
//   greenhub::RLock rlock;         // reentrant, owned by a greenlet
//
// Lock is a BoundedSemaphore(1): any greenlet may release it (as with
// Python's Lock), waiters get it in FIFO order, and releasing it while it is
// unlocked throws std::logic_error (Python raises RuntimeError).
//
// RLock is owned by the greenlet that acquired it, which may acquire it
// again; it is free once released as many times. A release by a greenlet
// that does not own it throws std::logic_error and changes nothing.
// Waiters get it in FIFO order (it is built on a Lock). Both belong to one
// hub and take no lock.
#pragma once

#include <cstdint>
#include <optional>

#include "greenhub/runtime.hpp"
#include "greenhub/semaphore.hpp"

namespace greenhub {

class Lock : public BoundedSemaphore {
 public:
  Lock() : BoundedSemaphore(1, "greenhub: release of an unlocked Lock") {}
};

class RLock {
 public:
  RLock() = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  // Takes the lock, or one more level of it if the current greenlet owns
  // it. Returns false if it was not obtained (non-blocking, or timeout).
  bool acquire(bool blocking = true, std::optional<Duration> timeout = std::nullopt);
  // Drops one level; frees the lock at the last. Throws std::logic_error if
  // the current greenlet does not own it.
  void release();

  bool locked() const { return lock_.locked(); }
  // Whether the current greenlet owns it.
  bool is_owned() const;
  // How many times the owner holds it (0 when free).
  int count() const { return count_; }

  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }

  // For Condition: frees the lock completely whatever its level (the owner
  // only) and returns the level, which acquire_restore() takes back.
  int release_save();
  void acquire_restore(int count);

 private:
  Lock lock_;
  uint64_t owner_ = 0;  // greenlet id of the owner; 0 when free
  int count_ = 0;
};

}  // namespace greenhub
