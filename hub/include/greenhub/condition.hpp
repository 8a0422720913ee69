// Condition: a condition variable over a Lock or an RLock (Python's
// threading.Condition, which gevent's monkey-patched threading provides).
//
//   greenhub::Lock lock;
//   greenhub::Condition cond(lock);
//   { std::lock_guard g(lock); cond.wait_for([&] { return !items.empty(); }); }
//   { std::lock_guard g(lock); items.push_back(x); cond.notify(); }
//
// How it works
//   wait() requires the lock held by the caller. It queues the greenlet on
//   the condition (FIFO), releases the lock completely (an RLock at every
//   level), parks until notify() grants it or the timeout passes, then
//   takes the lock back at the same level before returning, whatever ended
//   the wait: also when a kill or a Timeout is thrown out of it, so that the
//   caller's lock guard stays correct. notify(n) wakes the n oldest waiters.
//
// Invariants
//   - A greenlet returns from wait(), normally or by an exception, holding
//     the lock as it held it before. If it is interrupted again while
//     taking the lock back, it still takes it and then throws the latest
//     interruption. Only LoopExit (the lock can never be released) leaves
//     it without the lock.
//   - wait() and notify() without holding the lock throw std::logic_error
//     (Python raises RuntimeError). For a Lock, "held" means locked, since a
//     Lock has no owner.
//   - Belongs to one hub; takes no lock.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "greenhub/lock.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/waiter_queue.hpp"

namespace greenhub {

class Condition {
 public:
  // Over its own RLock (Python's default).
  Condition();
  explicit Condition(Lock& lock) : lock_(&lock) {}
  explicit Condition(RLock& lock) : rlock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition();

  // The underlying lock's acquire/release.
  bool acquire(bool blocking = true, std::optional<Duration> timeout = std::nullopt);
  void release();
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }

  // Releases the lock, waits for a notify() (true) or the timeout (false),
  // and takes the lock back.
  bool wait(std::optional<Duration> timeout = std::nullopt) { return wait_until(WaitDeadline(timeout)); }

  // Waits until pred() is true or the timeout passes; returns pred()'s last
  // value. pred() runs with the lock held.
  template <class Pred>
  bool wait_for(Pred pred, std::optional<Duration> timeout = std::nullopt) {
    WaitDeadline deadline(timeout);
    bool result = pred();
    while (!result && !deadline.expired()) {
      wait_until(deadline);
      result = pred();
    }
    return result;
  }

  // Wakes the `n` oldest waiters (fewer if fewer wait).
  void notify(size_t n = 1);
  void notify_all();

 private:
  bool owned() const;
  bool wait_until(const WaitDeadline& deadline);
  // Releases the lock completely; returns what restore() needs.
  int release_save();
  // Takes the lock back at `saved` level, deferring interruptions; returns
  // the latest interruption that arrived meanwhile, or null.
  std::exception_ptr restore(int saved);

  std::unique_ptr<RLock> own_rlock_;
  Lock* lock_ = nullptr;
  RLock* rlock_ = nullptr;
  WaiterQueue waiters_;
};

}  // namespace greenhub
