// Fairness for green threads that run without waiting.
//
// Natively a thread that loops on calls that return at once (a zero-timeout
// poll, a select whose sets are always ready, a non-blocking recv failing
// with EAGAIN) burns its CPU while the other threads run on the other
// CPUs. A green thread doing so holds its hub: the thread it is waiting
// for, on the same hub, never runs. (Seen with CPython's asyncore server in
// test_ftplib: during a TLS handshake it loops on a select that reports its
// socket writable and a recv that fails with EAGAIN, while the client that
// would answer waits for its turn on the same hub.)
//
// The same holds for a thread that computes for long stretches and only
// makes calls that do not wait (mutex, semaphore and condition-variable
// calls that succeed at once): the other threads' timed waits never come
// due. CPython's GIL relies on one: a thread that wants the GIL waits 5 ms
// on a condition variable, then asks the holder to drop it.
//
// How it works
//   Interposed calls that return without waiting on a descriptor call
//   note_returned_without_waiting(): it counts such returns on the OS
//   thread while the hub's switch counter stays the same (nothing else
//   ran), and at kReturnsBeforeYield the caller yields to the loop
//   (Hub::yield_to_loop: the loop polls, due timers and ready descriptors
//   wake their greenlets, every runnable greenlet runs).
//   The synchronization calls that do not wait call note_running(): every
//   kCallsPerClockCheck calls it reads the clock, and when the hub has not
//   switched for kRunBeforeYieldNs, the caller yields to the loop.
//   A thread that waits now and then never yields here. Not covered: a
//   thread that makes no interposed call at all (a pure computation) holds
//   its hub until it does.
#pragma once

#include <cerrno>
#include <cstdint>

#include "deadline.hpp"
#include "greenhub/runtime.hpp"
#include "runtime.hpp"

namespace greenhub::preload {

namespace busy_poll_detail {
struct ReturnsWithoutWaiting {
  uint64_t switches_seen;
  uint32_t count;
};
inline constinit thread_local ReturnsWithoutWaiting returns{0, 0};
constexpr uint32_t kReturnsBeforeYield = 64;

struct RunWithoutSwitch {
  uint64_t switches_seen;
  int64_t since_ns;
  uint32_t calls;
};
inline constinit thread_local RunWithoutSwitch run{0, 0, 0};
constexpr uint32_t kCallsPerClockCheck = 64;
constexpr int64_t kRunBeforeYieldNs = 10'000'000;

inline void yield_to_loop(Hub& hub) {
  const int saved = errno;
  hub.yield_to_loop();
  errno = saved;
}
}  // namespace busy_poll_detail

inline void note_returned_without_waiting(Hub& hub) {
  auto& r = busy_poll_detail::returns;
  const uint64_t switches = hub.counters().switches.load(std::memory_order_relaxed);
  if (switches != r.switches_seen) {
    r.switches_seen = switches;
    r.count = 1;
    return;
  }
  if (++r.count < busy_poll_detail::kReturnsBeforeYield) return;
  r.count = 0;
  busy_poll_detail::yield_to_loop(hub);
}

// note_returned_without_waiting(), passing the call's result through.
template <class R>
R returned_without_waiting(Hub& hub, R result) {
  note_returned_without_waiting(hub);
  return result;
}

inline void note_running() {
  auto& r = busy_poll_detail::run;
  if (++r.calls % busy_poll_detail::kCallsPerClockCheck != 0) return;
  Hub* hub = green_hub();
  if (hub == nullptr) return;
  const uint64_t switches = hub->counters().switches.load(std::memory_order_relaxed);
  const int64_t now = clock_now_ns(CLOCK_MONOTONIC);
  if (switches != r.switches_seen) {
    r.switches_seen = switches;
    r.since_ns = now;
    return;
  }
  if (now - r.since_ns < busy_poll_detail::kRunBeforeYieldNs) return;
  r.since_ns = now;
  busy_poll_detail::yield_to_loop(*hub);
}

}  // namespace greenhub::preload
