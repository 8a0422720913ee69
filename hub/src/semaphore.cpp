#include "greenhub/semaphore.hpp"

#include <stdexcept>

namespace greenhub {

namespace {

int checked_initial_value(int value) {
  if (value < 0) throw std::invalid_argument("greenhub: semaphore initial value must be >= 0");
  return value;
}

}  // namespace

Semaphore::Semaphore(int value) : counter_(checked_initial_value(value)), initial_(value) {}

Semaphore::Semaphore(int value, const char* over_release)
    : counter_(checked_initial_value(value)), initial_(value), over_release_(over_release) {}

bool Semaphore::acquire(bool blocking, std::optional<Duration> timeout) {
  if (counter_ > 0) {
    --counter_;
    return true;
  }
  if (!blocking) return false;
  // Granted means release() handed us its permit: the counter was not raised.
  return acquirers_.wait(WaitDeadline(timeout), nullptr, "Semaphore.acquire");
}

void Semaphore::release() {
  if (over_release_ != nullptr && counter_ >= initial_) throw std::logic_error(over_release_);
  if (acquirers_.grant_one() != nullptr) return;
  ++counter_;
  available_waiters_.grant_all();
}

int Semaphore::wait(std::optional<Duration> timeout) {
  WaitDeadline deadline(timeout);
  while (counter_ <= 0) {
    if (!available_waiters_.wait(deadline, nullptr, "Semaphore.wait")) break;
  }
  return counter_;
}

BoundedSemaphore::BoundedSemaphore(int value)
    : Semaphore(value, "greenhub: BoundedSemaphore released too many times") {}

}  // namespace greenhub
