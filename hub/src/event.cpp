#include "greenhub/event.hpp"

namespace greenhub {

void Event::set() {
  flag_ = true;
  waiters_.grant_all();
}

bool Event::wait(std::optional<Duration> timeout) {
  if (flag_) return true;
  return waiters_.wait(WaitDeadline(timeout), nullptr, "Event.wait");
}

}  // namespace greenhub
