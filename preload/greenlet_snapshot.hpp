// Greenlet snapshots: what each hub and each of its greenlets is doing,
// captured by the hub itself, for the control socket.
//
// How it works
//   A hub's greenlets belong to it and take no lock, so another OS thread
//   may not walk them. capture_hubs() posts a task to each hub (Hub::post) and
//   waits (a futex, one timeout for all hubs) for the hubs to run them. The task
//   runs in the hub greenlet, so every greenlet of that hub is switched out
//   and holds still while the task copies its id, name, state and wait
//   record (waiting_on, waiting_fd, parked_since_ns), and, if asked, its
//   backtrace. The time from post to run is the hub's loop lag. A hub that
//   does not run the task within the timeout is reported as unresponsive
//   (it is stalled: one of its greenlets keeps it from switching).
//
// Backtraces of switched-out greenlets (x86-64)
//   A greenlet that is not running was switched out by jump_fcontext, which
//   pushed its callee-saved registers and return address on its own stack:
//   saved_context() points at that block (Boost.Context 1.74, x86-64 SysV:
//   +0x30 rbp, +0x38 return address). The task walks the frame-pointer
//   chain from there: pc = [fp+8], fp = [fp], while fp rises and stays
//   inside the greenlet's stack. The walk only reads memory inside that
//   stack (its pooled region, or the OS thread's stack for a main
//   greenlet), so a broken chain ends the walk early; it never faults.
//   Limits: greenhub is built with frame pointers, so the runtime's frames
//   always unwind; a program (or library) built without them shows its
//   frames only up to the first one that does not keep rbp as a frame
//   pointer (Debian's default -O2 omits it: such a frame and its callers
//   are cut or skipped). Symbol names come from dladdr: exported (dynamic)
//   symbols only; others print as object+offset. gdb's `greenlet bt`
//   (tools/gdb/greenhub.py) unwinds with DWARF and shows every frame.
//   No greenlet of the hub is running while the task runs (the task runs in
//   the hub greenlet), so every started greenlet has a saved context; the
//   greenlet that stalls a hub is never walked, since that hub never runs
//   the task (the blocking monitor reports such a stall with its OS thread's
//   backtrace). A main greenlet runs on its OS thread's stack, whose bounds
//   the task reads with pthread_getattr_np on that thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "greenhub/runtime.hpp"

namespace greenhub::preload {

struct GreenletRecord {
  uint64_t id = 0;
  std::string name;
  GreenletBase::State state = GreenletBase::State::kNew;
  bool is_main = false;
  bool green_thread = false;    // a pthread made green by the preload
  std::string waiting_on;       // empty: not waiting on anything named
  int fd = -1;
  int64_t parked_since_ns = 0;  // CLOCK_MONOTONIC_COARSE
  size_t stack_size = 0;
  std::vector<uintptr_t> frames;  // return addresses, innermost first
};

struct HubRecord {
  size_t index = 0;  // the preload's hub number (0: the main thread's)
  uint64_t id = 0;
  long tid = 0;
  bool responsive = false;  // ran the capture task within the timeout
  uint64_t switches = 0;
  uint64_t loop_iterations = 0;
  uint64_t spawned = 0;
  uint64_t finished = 0;
  int64_t loop_lag_ns = -1;  // post to run of the capture task; -1 unresponsive
  size_t runnable = 0;
  std::vector<GreenletRecord> greenlets;
};

// Captures every hub (hubs[i] is the preload's hub i); waits at most
// timeout_ns in all. With `backtraces`, every switched-out greenlet's return
// addresses are captured too.
std::vector<HubRecord> capture_hubs(const std::vector<Hub*>& hubs, bool backtraces,
                                    int64_t timeout_ns);

// "function+0x12 (object)" for a return address, from dladdr.
std::string describe_address(uintptr_t pc, std::string* function, std::string* object);

const char* state_name(GreenletBase::State s);

int64_t monotonic_ns();
int64_t monotonic_coarse_ns();

}  // namespace greenhub::preload
