// The preload's process runtime: configuration, the hubs, and the one
// question every shim asks first: may this call wait green?
//
// How it works
//   At start-up (the preload's constructor, on the main thread), hub 0 is
//   created on the main thread, so that main() runs as hub 0's main
//   greenlet, and GREENHUB_HUBS-1 more hubs are started, each an OS thread
//   running its hub loop forever. New green threads are placed round-robin
//   over the hubs (documented policy) and stay on their hub for life; what
//   wakes them from another hub goes through that hub's remote queue.
//
//   green_hub() answers "may the calling context park?": it returns the
//   hub to park on for main() and green threads (and, with
//   GREENHUB_GREEN_THREADS=0, for any thread the program created), and
//   nullptr for every other context: threads libc or the runtime made
//   itself, a hub's own loop, and anything before start-up. A nullptr means
//   the call goes straight to libc, with libc's semantics.
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>

#include "greenhub/runtime.hpp"

namespace greenhub::preload {

struct Config {
  size_t hubs = 1;              // GREENHUB_HUBS
  bool green_threads = true;    // GREENHUB_GREEN_THREADS
  size_t stack_size = 0;        // GREENHUB_STACK_SIZE (0: the hub's default)
  // GREENHUB_MAX_BLOCKING_MS. Unset or 0: no blocking monitor, so that a
  // program's stderr under a bare LD_PRELOAD stays its own (principle 1);
  // greenrun turns it on (100 ms) unless told otherwise.
  unsigned max_blocking_ms = 0;
  const char* monitor_log = nullptr;    // GREENHUB_MONITOR_LOG (nullptr: stderr)
  bool stats = false;                   // GREENHUB_STATS (summary on stderr at exit)
};

const Config& config();
bool initialized();

// The hub the calling context may park on, or nullptr (go to libc).
Hub* green_hub();

// A new green thread's hub (round-robin over the hubs).
Hub& hub_for_new_thread();
size_t hub_count();
// Hub `index` (0: the main thread's), or nullptr past the last one.
Hub* hub_at(size_t index);

// Marks the calling OS thread as created by the program (used when
// GREENHUB_GREEN_THREADS=0: such threads get a hub of their own on demand).
void mark_program_thread();

// Hub 0, the main thread's (nullptr before start-up).
Hub* main_hub();

// Whether the calling OS thread is one of the runtime's hub threads (hubs
// 1..N-1), which block the asynchronous signals listed by
// hub_thread_blocked_signals() so that process-directed signals go to the
// main thread.
bool on_runtime_hub_thread();
void hub_thread_blocked_signals(sigset_t* set);

// In a child made by fork(), on the forking thread: the process's hubs are
// `survivor` (the forking thread's hub) alone; the other GREENHUB_HUBS-1 hub
// threads are started again when the child first creates a green thread,
// so that a child that only execs pays for no thread. The forking thread
// stops counting as a runtime hub thread (set its signal mask first).
void restart_hubs_in_forked_child(Hub* survivor);

// In a child made by _Fork() (which may only call async-signal-safe
// functions): the runtime is off, initialized() is false from then on, and
// every call goes straight to libc.
void disable_runtime_in_forked_child();

// Identifies the calling thread for mutex ownership: a green thread's id
// (bit 30 set) or the kernel tid of a real thread.
uint32_t current_owner_id();

}  // namespace greenhub::preload
