// The signal mask the program means for the calling thread.
//
// Signal masks are per OS thread, so the green threads of a hub share one
// (README: "What is not per green thread"). On hub 0's thread (main()) and
// on real threads, the OS thread's mask is the program's. The runtime's hub
// threads (hubs 1..N-1) also block the asynchronous signals, so that
// process-directed signals go to the main thread.
//
// How it works
//   On those hub threads the program's mask is kept apart: it starts as the
//   mask of the thread that made the hub (what a thread created there would
//   have inherited), pthread_sigmask and sigprocmask read and change it,
//   and the OS thread's mask is it plus the runtime's signals. A signal the
//   program unblocks that is pending for the thread (or the process) is
//   delivered when it unblocks it, as natively. What outlives a call of a
//   green thread there must not inherit the runtime's extra blocking: a new
//   program image (exec), a spawned child (posix_spawn, system, popen), a
//   forked child get program_signal_mask().
#pragma once

#include <signal.h>

namespace greenhub::preload {

// The program's mask of the calling thread.
void program_signal_mask(sigset_t* mask);

// Whether the runtime, and not the program, blocks `sig` on the calling
// thread (a runtime hub thread, `sig` asynchronous and not blocked by the
// program there).
bool runtime_blocks_signal(int sig);

// Sets the calling thread's mask to program_signal_mask() and stores the
// previous mask in *previous; returns whether it changed anything.
bool enter_program_signal_mask(sigset_t* previous);

// pthread_sigmask(SIG_SETMASK, mask) with libc's function resolved before
// main() (usable in vfork and _Fork children).
void set_signal_mask(const sigset_t* mask);

// On a new runtime hub thread, before it runs anything: the program's mask
// there is `inherited`; the OS thread blocks it plus the runtime's signals.
void start_hub_thread_signal_mask(const sigset_t& inherited);

}  // namespace greenhub::preload
