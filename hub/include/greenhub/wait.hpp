// Waiting from the C++ API: sleep, descriptor readiness, and the blocking
// step every green primitive shares.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>

#include "greenhub/runtime.hpp"

namespace greenhub {

// Raised in the main greenlet when it waits for something that nothing left
// on the hub could ever deliver (gevent's LoopExit).
class LoopExit : public std::runtime_error {
 public:
  LoopExit() : std::runtime_error("greenhub: this operation would block forever") {}
};

// Throws the current greenlet's pending exception (kill, Timeout), if any.
void throw_if_pending();

// Parks the current greenlet for the C++ API, with a token prepared by
// Hub::prepare_park(). Returns true when woken, false when the deadline
// passed; throws the pending exception when interrupted, and LoopExit when
// nothing could ever wake it.
bool block(WaitToken token, Deadline deadline = Deadline::never());

// Optional timeouts throughout the API: std::nullopt waits forever.
using Timeout_t = std::optional<Duration>;

inline Deadline deadline_from(const std::optional<Duration>& timeout) {
  return timeout ? Deadline::after(*timeout) : Deadline::never();
}

// Sleeps the current greenlet; sleep(0) (or any non-positive duration)
// yields to the other runnable greenlets without starting a timer.
void sleep(Duration d);
template <class Rep, class Period>
void sleep(std::chrono::duration<Rep, Period> d) {
  sleep(std::chrono::duration_cast<Duration>(d));
}

// Waits until fd is readable (writable). Returns false on timeout.
bool wait_readable(int fd, std::optional<Duration> timeout = std::nullopt);
bool wait_writable(int fd, std::optional<Duration> timeout = std::nullopt);

}  // namespace greenhub
