// greenhub::Timeout: a deadline for the waits of one greenlet (gevent.Timeout).
//
//   try {
//     greenhub::Timeout timeout(100ms);   // a scope: started now, cancelled
//     do_something_that_waits();          // when it goes out of scope
//   } catch (const greenhub::Timeout& t) { ... }
//
// When the deadline passes, the greenlet that started the Timeout gets it
// thrown at its current or next wait. The thrown object is a copy of the
// Timeout: `caught == timeout` tells which Timeout fired when they nest.
// As an object: Timeout t(d, /*start=*/false); t.start(); ... t.cancel();
//
// Timeout does not derive from std::exception (like gevent's Timeout is a
// BaseException), so that `catch (const std::exception&)` in the code under
// the deadline does not swallow it.
#pragma once

#include <chrono>
#include <memory>
#include <utility>

#include "greenhub/runtime.hpp"

namespace greenhub {

class Timeout {
 public:
  explicit Timeout(Duration duration, bool start = true);
  template <class Rep, class Period>
  explicit Timeout(std::chrono::duration<Rep, Period> d, bool start = true)
      : Timeout(std::chrono::duration_cast<Duration>(d), start) {}
  // Copies (such as the thrown exception) share the deadline but do not own
  // it: only the original cancels it when destroyed.
  Timeout(const Timeout& other);
  Timeout(Timeout&& other) noexcept;
  Timeout& operator=(const Timeout&) = delete;
  ~Timeout();

  // Arms the deadline for the current greenlet, from now.
  void start();
  // Disarms it; a Timeout that fired but was not yet raised is withdrawn.
  void cancel();
  // Whether it is armed and has not fired.
  bool pending() const;
  Duration duration() const;
  const char* what() const noexcept;

  bool operator==(const Timeout& other) const { return state_ == other.state_; }

  struct State;  // internal

 private:
  explicit Timeout(std::shared_ptr<State> state) : state_(std::move(state)), owner_(false) {}
  friend struct State;
  std::shared_ptr<State> state_;
  bool owner_;
};

// Runs f(args...) under a Timeout of `duration` and returns its result.
template <class F, class... Args>
decltype(auto) with_timeout(Duration duration, F&& f, Args&&... args) {
  Timeout timeout(duration);
  return std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace greenhub
