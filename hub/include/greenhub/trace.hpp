// Tracing: what the greenlets of a process did, recorded into a file that
// tools/greentrace reads (GREENHUB_TRACE=FILE).
//
// How it works
//   Each OS thread that records events owns an EventRing (a single-producer,
//   single-consumer ring of fixed-size records, hub/src/trace/event_ring.hpp):
//   a hub's thread is the only producer of its ring, so recording an event
//   is a clock read, a 48-byte copy and a release store, with no lock and no
//   system call. A writer thread (a real OS thread the runtime owns) drains
//   every ring every few milliseconds into the file. When a ring is full the
//   event is counted as dropped, never waited for: the writer records the
//   number of events each ring dropped, and greentrace reports it.
//
//   Off (GREENHUB_TRACE unset), each event site costs one predictable branch
//   on a global flag (on()); nothing else runs and nothing is allocated.
//
//   Events: greenlet spawn, first run and exit (id, pthread name, creator);
//   each park of a greenlet (Hub::park: the call it waits in, the
//   descriptor if any, start, duration, why it woke); hub stalls reported by
//   the blocking monitor (stall()); and, through call_counters.hpp, how many
//   calls of each interposed function went green or passed through to libc
//   and why. The file format is in hub/src/trace/trace_format.hpp.
//
// Lifetime
//   start() opens the file and starts the writer; libgreenhub and the
//   preload call start_from_env() when they load. The file is flushed at
//   exit (atexit), and before exec (flush_before_exec()). A child made by
//   fork() stops tracing at once and never writes into its parent's file;
//   "%p" in GREENHUB_TRACE is replaced by the process id, so that the
//   programs a traced process execs can each write a trace of their own.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace greenhub {
class GreenletBase;
class Hub;
}  // namespace greenhub

namespace greenhub::trace {

namespace detail {
// Bit 0: events are recorded (a trace file is open). Bit 1: per-call
// counters are kept (tracing, or greentop's control socket).
// Relaxed loads: a plain byte load on x86-64.
extern std::atomic<unsigned char> g_flags;
}  // namespace detail

// Whether events are recorded: the one branch at every event site.
inline bool on() noexcept {
  return __builtin_expect(detail::g_flags.load(std::memory_order_relaxed) & 1, 0);
}

// Starts tracing into `path` ("%p" is replaced by the process id). Returns
// false (and reports on stderr) if the file cannot be opened. Idempotent.
bool start(const char* path);
// start(getenv("GREENHUB_TRACE")) if set; called once at load.
void start_from_env();
// Drains every ring, writes the counters and closes the file.
void stop();
// Writes everything recorded so far (the exec shims call it: exec discards
// the writer thread).
void flush_before_exec();
// In a child made by fork(): stop recording, forget the parent's file.
void after_fork_in_child();

// CLOCK_MONOTONIC in nanoseconds (the clock of every event).
uint64_t now_ns() noexcept;

// --- event sites (call only when on()) -----------------------------------
// `g` was attached to its hub; `creator` is the greenlet that called start.
void greenlet_spawned(const GreenletBase& g, const Hub& hub, uint64_t creator_id);
// start_on(hub) from another hub: who asked (recorded on the caller's thread).
void greenlet_spawn_requested(const GreenletBase& g, const Hub& target, uint64_t creator_id);
// The greenlet runs for the first time.
void greenlet_started(const GreenletBase& g);
// Its body returned (or threw: `failed`).
void greenlet_exited(const GreenletBase& g, bool failed);
// One park of the current greenlet of `hub` is over. `call` is what it
// waited in (GreenletBase::waiting_on, a string literal, or nullptr), `fd`
// the descriptor (-1: none, or several); `reason` is the WakeReason.
void park_done(const Hub& hub, const GreenletBase& g, const char* call, int fd, uint64_t start_ns,
               int reason);
// The descriptor the park about to start waits on: fd waits note it right
// before Hub::park and clear it (-1) right after; Hub::park takes it as it
// parks (falling back on g.waiting_fd()).
void note_wait_fd(int fd) noexcept;
int take_wait_fd(const GreenletBase& g) noexcept;

// --- the blocking monitor --------------------------------------------------
struct StallReport {
  uint64_t hub_id = 0;               // Hub::id()
  uint64_t greenlet_id = 0;          // the greenlet holding the hub (0: unknown)
  std::string_view greenlet_name;    // its pthread name ("" if none)
  std::string_view call;             // the interposed call, or "outside any interposed call"
  uint64_t start_ns = 0;             // now_ns() when the hub last switched (0: now - duration)
  uint64_t duration_ns = 0;          // how long the hub had not switched when reported
  std::string_view backtrace;        // frames, one per line
};
// Records a stall, from any thread (the monitor's). No-op when off.
void stall(const StallReport& report) noexcept;

}  // namespace greenhub::trace
