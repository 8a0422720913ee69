// The signal mask the program means for the calling thread.
//
// Signal masks are per OS thread in the kernel; here each green thread has
// its own, as natively.
//
// How it works
//   The OS thread's mask belongs to one context: on hub 0's thread to
//   main() (the hub's signal receiver), on real threads to that thread. The
//   runtime's hub threads (hubs 1..N-1) block the asynchronous signals, so
//   that process-directed signals go to the main thread. Every other green
//   thread's mask is its own (GreenThread::signal_mask): inherited from its
//   creator, read and changed by pthread_sigmask and sigprocmask without a
//   system call, and handed on to what outlives a call (exec, posix_spawn,
//   system, popen, a forked child: enter_program_signal_mask()).
//   A green thread's mask governs the signals sent to it (pthread_kill,
//   pthread_sigqueue, raise, tgkill to its id): a signal it blocks is held
//   for it (GreenThread::pending_signals) until it unblocks it (the handler
//   then runs on it, as the unblocking call returns), takes it with sigwait
//   and its kin, or reads it with sigpending. A process-directed signal
//   goes where the kernel sends it: to main() unless main() blocks it.
//   In a child forked by a green thread, that thread owns the OS thread's
//   mask (it is the process's only thread).
//
// Not reproduced: a process-directed signal that main() does not block runs
// its handler on hub 0's thread whichever green thread is running there,
// even one that blocks it (natively it would run on main()).
#pragma once

#include <signal.h>

namespace greenhub::preload {

class GreenThread;

// The calling green thread if its mask is its own (not its OS thread's).
GreenThread* thread_with_own_mask();

// The program's mask of the calling thread.
void program_signal_mask(sigset_t* mask);
// The mask of green thread `t` (on its hub's thread).
void signal_mask_of(const GreenThread& t, sigset_t* mask);

// Whether the runtime, and not the program, blocks `sig` on the calling
// OS thread (a runtime hub thread and an asynchronous signal).
bool runtime_blocks_signal(int sig);

// Sets the calling OS thread's mask to program_signal_mask() and stores the
// previous mask in *previous; returns whether it changed anything.
bool enter_program_signal_mask(sigset_t* previous);

// pthread_sigmask(SIG_SETMASK, mask) with libc's function resolved before
// main() (usable in vfork and _Fork children).
void set_signal_mask(const sigset_t* mask);

// A handler runs on the calling OS thread: it may leave with longjmp and the
// kernel's mask of the handler (async-signal-safe).
void forget_os_signal_mask();

// On a new runtime hub thread, before it runs anything.
void start_hub_thread_signal_mask();
// pthread_create: the new green thread starts with its creator's mask.
void inherit_signal_mask(GreenThread& child);
// In a child forked by green thread `t`: its mask is the OS thread's (which
// already holds it); what was held for it is gone, as a child's pending
// signals are.
void claim_os_signal_mask(GreenThread& t);

// The signals held for `t`: hold one (a standard signal held already is
// not held twice), take the first in `set` (false if none).
void hold_signal(GreenThread& t, int sig, const sigval* value);
bool take_held_signal(GreenThread& t, const sigset_t& set, struct PendingGreenSignal* out);
// Whether a signal is held for the calling green thread that `mask` lets
// through (a call waiting with that mask ends with EINTR at once).
bool holds_signal_unblocked_by(const sigset_t& mask);

}  // namespace greenhub::preload
