#include "greenhub/condition.hpp"

#include <stdexcept>

#include "greenhub/wait.hpp"

namespace greenhub {

Condition::Condition() : own_rlock_(std::make_unique<RLock>()), rlock_(own_rlock_.get()) {}

Condition::~Condition() = default;

bool Condition::acquire(bool blocking, std::optional<Duration> timeout) {
  return rlock_ != nullptr ? rlock_->acquire(blocking, timeout) : lock_->acquire(blocking, timeout);
}

void Condition::release() {
  if (rlock_ != nullptr) rlock_->release();
  else lock_->release();
}

bool Condition::owned() const { return rlock_ != nullptr ? rlock_->is_owned() : lock_->locked(); }

int Condition::release_save() {
  if (rlock_ != nullptr) return rlock_->release_save();
  lock_->release();
  return 1;
}

std::exception_ptr Condition::restore(int saved) {
  std::exception_ptr deferred;
  for (;;) {
    try {
      if (rlock_ != nullptr) rlock_->acquire_restore(saved);
      else lock_->acquire();
      return deferred;
    } catch (const LoopExit&) {
      throw;
    } catch (...) {
      // A kill or Timeout while taking the lock back: take it anyway, then
      // let the interruption through.
      deferred = std::current_exception();
    }
  }
}

bool Condition::wait_until(const WaitDeadline& deadline) {
  if (!owned()) throw std::logic_error("greenhub: cannot wait on an un-acquired Condition lock");
  throw_if_pending();
  // Releasing only schedules the next owner; it cannot run (and notify)
  // before this greenlet is queued below, so no notify() is missed.
  const int saved = release_save();
  bool notified = false;
  std::exception_ptr interruption;
  try {
    notified = waiters_.wait(deadline, nullptr, "Condition.wait");
  } catch (...) {
    interruption = std::current_exception();
  }
  if (std::exception_ptr later = restore(saved)) interruption = later;
  if (interruption != nullptr) std::rethrow_exception(interruption);
  return notified;
}

void Condition::notify(size_t n) {
  if (!owned()) throw std::logic_error("greenhub: cannot notify on an un-acquired Condition lock");
  for (size_t i = 0; i < n; ++i) {
    if (waiters_.grant_one() == nullptr) break;
  }
}

void Condition::notify_all() {
  if (!owned()) throw std::logic_error("greenhub: cannot notify on an un-acquired Condition lock");
  waiters_.grant_all();
}

}  // namespace greenhub
