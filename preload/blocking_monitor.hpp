// The blocking monitor: reports a hub that one greenlet keeps from switching.
//
// How it works
//   A monitor OS thread (created by the runtime at start-up, not a program
//   thread, every signal blocked, named "greenhub-mon") wakes every
//   threshold/5 (5 to 50 ms) and reads each hub's heartbeat: its switch and
//   loop-iteration counters (relaxed atomics the hub already keeps) and an
//   "in epoll_wait" flag that libev's release/acquire callbacks set around
//   the hub's poll. A hub whose heartbeat has not moved for the threshold
//   while it is not waiting in its poll is stalled: the greenlet running on
//   it has kept it from switching, unless the time was spent waiting for a
//   CPU: from the first sampling period without a beat, the monitor reads
//   the thread's run-queue delay (/proc/self/task/TID/schedstat) and does
//   not count it, so a busy machine does not make a healthy hub look
//   stalled. The monitor reports a stall once,
//   if the hub has another program greenlet that it keeps from running (a
//   single-threaded program waiting on its terminal is not reported).
//
//   The report names the hub, the greenlet (id, pthread name), the
//   interposed call it is in (interposed_call.hpp) or "outside any
//   interposed call", how long, and the backtrace of the hub's OS thread:
//   the monitor queues kMonitorSignal (a real-time signal) to that thread
//   with rt_tgsigqueueinfo and a request number; the handler, running on
//   the stalled thread, copies the greenlet's identity and backtrace() into
//   a preallocated buffer (no allocation, no lock: backtrace() is warmed up
//   once at start so that it has loaded libgcc; libgcc's unwinder finds
//   frames through _dl_find_object, lock-free), then wakes the monitor,
//   which symbolizes with dladdr and writes one report with one write().
//   When the stall ends, one more line gives its length.
//
//   The handler is installed with SA_RESTART | SA_ONSTACK (the hub threads'
//   overflow alternate stack; a greenlet's stack may be small). Hub threads
//   block the asynchronous signals; each unblocks kMonitorSignal alone. A
//   thread that blocks it (the program's mask on the main thread) yields a
//   report without backtrace after 100 ms, and the late delivery is ignored.
//
// Invariants
//   - At most one capture request is outstanding; its word moves
//     requested -> capturing -> done under compare-and-swap, so a late or
//     foreign delivery never writes the buffer the monitor is reading.
//   - A capture is asked at most once per stall, and only of a thread that
//     runs user code or is blocked in a system call that SA_RESTART makes
//     transparent (read, write, accept, wait4... on a descriptor without
//     SO_RCVTIMEO/SO_SNDTIMEO), as /proc/self/task/TID/syscall tells: a
//     signal would cut any other call (nanosleep, poll, epoll_wait, a timed
//     socket call) short with EINTR, so those stalls are reported with the
//     call's number and no backtrace.
//   - Nothing on the hubs' hot path but what they already do: the switch
//     counter is a relaxed store per switch, the poll flag two relaxed
//     stores per loop poll.
//
// Limits
//   With GREENHUB_GREEN_THREADS=0 only hub 0 (main's) is watched. A child
//   made by fork() that does not exec has no monitor. A program that
//   installs its own handler for kMonitorSignal replaces the capture.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace greenhub::preload {

// The real-time signal the monitor uses to capture a stalled hub's stack.
int monitor_signal();

// One stall, as reported.
struct StallReport {
  size_t hub_index = 0;
  uint64_t hub_id = 0;
  pid_t os_thread = 0;           // kernel tid of the hub's OS thread
  uint64_t greenlet_id = 0;
  const char* greenlet_name = "";  // its pthread name
  const char* call = nullptr;      // interposed call, nullptr: outside any
  uint64_t since_ns = 0;           // CLOCK_MONOTONIC ns when it last switched (at most one
                                   // sampling period late)
  uint64_t blocked_ns = 0;         // how long the hub has not switched so far
  void* const* frames = nullptr;   // the OS thread's backtrace (innermost first)
  int frame_count = 0;             // 0 when it could not be captured
  const char* text = "";           // the formatted report written to the log
  size_t text_length = 0;
  const char* backtrace = "";      // the symbolized frames within `text`, one per line
  size_t backtrace_length = 0;
};

// Emits one stall: writes `stall.text` to stderr or GREENHUB_MONITOR_LOG,
// counts it and, when tracing is on (GREENHUB_TRACE), records it in the
// trace (trace::stall). The single place where a stall leaves the monitor.
void report_stall(const StallReport& stall);

// Stalls reported since start-up (for GREENHUB_STATS).
uint64_t stalls_reported();

// Starts the monitor thread if GREENHUB_MAX_BLOCKING_MS is not 0. Called
// once at start-up, on the main thread, after the hubs exist.
void start_blocking_monitor();

}  // namespace greenhub::preload
