// The signal mask the program means for the calling thread.
//
// Signal masks are per OS thread, so the green threads of a hub share one
// (README: "What is not per green thread"). On hub 0's thread (main()) and
// on real threads, the OS thread's mask is the program's. The runtime's hub
// threads (hubs 1..N-1) also block the asynchronous signals, so that
// process-directed signals go to the main thread; a green thread running
// there must not hand that extra blocking on to what outlives the call: a
// new program image (exec), a spawned child (posix_spawn, system, popen), a
// forked child. For those it hands on program_signal_mask(): the OS
// thread's mask without the signals only the runtime blocks, i.e. plus
// those of them the main thread had blocked at start-up.
#pragma once

#include <signal.h>

namespace greenhub::preload {

void program_signal_mask(sigset_t* mask);

// Whether the runtime, and not the program, blocks `sig` on the calling
// thread (a runtime hub thread, `sig` asynchronous and not blocked by the
// main thread at start-up).
bool runtime_blocks_signal(int sig);

// Sets the calling thread's mask to program_signal_mask() and stores the
// previous mask in *previous; returns whether it changed anything.
bool enter_program_signal_mask(sigset_t* previous);

// pthread_sigmask(SIG_SETMASK, mask) with libc's function resolved before
// main() (usable in vfork and _Fork children).
void set_signal_mask(const sigset_t* mask);

}  // namespace greenhub::preload
