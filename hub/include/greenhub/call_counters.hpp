// Per-call counters: how many calls of each interposed function went green
// and how many passed through to libc unchanged, and why. greentrace writes
// them into the trace; greentop reads them live (call_counts()).
//
// How it works
//   Each OS thread counts into a table of its own (open addressing, keyed by
//   the call's name pointer, a string literal, and the route), so a count is
//   a hash probe and a plain store: no lock, no atomic read-modify-write.
//   Readers (the trace writer, the control socket) sum every thread's table
//   by name at any time; a table outlives its thread and is handed to the
//   next thread that counts, so totals only grow.
//
//   Counting is off unless tracing is on or enable_counters() was called:
//   off, count() costs one predictable branch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "greenhub/trace.hpp"

namespace greenhub::trace {

// The way a call went.
enum class Route : uint8_t {
  kGreen,            // waited (or could have waited) on the hub
  kNotGreenThread,   // the caller is not a green thread (a real thread, a hub loop)
  kRuntimeOff,       // before start-up, or in a child of _Fork / vfork
  kRegularFile,      // not pollable: regular file, directory, tty, device
  kProgramNonblock,  // the program set O_NONBLOCK: EAGAIN at once, as libc
  kCallerNonblock,   // the call asked not to wait (MSG_DONTWAIT, zero timeout)
  kUnpollable,       // epoll refused the descriptor mid-call: blocked in libc
  kBadFd,            // not an open descriptor: libc's EBADF
  kOther,            // flags or a kind the green path leaves to libc
  kCount,
};

// "green", "not a green thread", ...
const char* route_name(Route route);

namespace detail {
void count_slow(const char* call, Route route) noexcept;
}  // namespace detail

// Whether counters are kept.
inline bool counting() noexcept {
  return __builtin_expect(detail::g_flags.load(std::memory_order_relaxed) != 0, 0);
}

// Counts one call of `call` (a string literal: the function's name).
inline void count(const char* call, Route route) noexcept {
  if (counting()) detail::count_slow(call, route);
}

// Keeps counters without a trace file (greentop's control socket).
void enable_counters();

struct CallCount {
  std::string call;
  Route route;
  uint64_t count;
};
// Every (call, route) counted so far, summed over threads. Any thread.
std::vector<CallCount> call_counts();

}  // namespace greenhub::trace
