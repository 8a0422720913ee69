// Event: a flag greenlets wait for (gevent.event.Event).
//
//   greenhub::Event ready;
//   spawn([&] { ...; ready.set(); });
//   ready.wait();            // or ready.wait(100ms) -> false on timeout
//
// set() wakes every waiter; the flag stays set until clear(). A waiter that
// was woken by set() returns true even if clear() ran before it resumed (so
// a set() is never missed, as in gevent and Python's threading.Event).
// Belongs to one hub; takes no lock.
#pragma once

#include <optional>

#include "greenhub/runtime.hpp"
#include "greenhub/waiter_queue.hpp"

namespace greenhub {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Sets the flag and wakes every waiter (they run in the order they waited).
  void set();
  // Resets the flag; later waits block until the next set().
  void clear() { flag_ = false; }
  bool is_set() const { return flag_; }
  bool ready() const { return flag_; }

  // Returns at once if the flag is set; else waits until set() (true) or
  // the timeout passes (false). Throws the greenlet's kill or Timeout.
  bool wait(std::optional<Duration> timeout = std::nullopt);

 private:
  bool flag_ = false;
  WaiterQueue waiters_;
};

}  // namespace greenhub
