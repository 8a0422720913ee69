// The program's signal handlers, run through the preload's trampoline.
//
// How it works
//   sigaction (and signal, bsd_signal, ssignal, sysv_signal, sigset,
//   siginterrupt, which glibc implements with its internal sigaction)
//   installs, in place of a handler the program asks for, a trampoline with
//   the program's flags and mask (plus SA_SIGINFO, to have the siginfo to
//   pass on), and keeps the program's handler and flags in a table. The
//   trampoline tells signal_interrupt a handler ran (so that green waits
//   can be interrupted with EINTR) and calls the program's handler with the
//   arguments it expects. SIG_DFL and SIG_IGN are installed as they are.
//
//   The kernel's view is the program's, except for the handler address and
//   SA_SIGINFO: SA_RESTART, SA_RESETHAND, SA_NODEFER, SA_ONSTACK and the
//   mask act natively, exec resets the trampoline like any handler. A query
//   (oldact) reports the program's handler and SA_SIGINFO bit with the
//   kernel's other flags and mask, as natively; after an SA_RESETHAND
//   delivery the kernel reports SIG_DFL itself.
//
// Invariants
//   - The table is written under a lock with every signal blocked on the
//     writing thread, as a seqlock, so that the trampoline (on any thread)
//     never reads a handler with another handler's flags.
//   - The trampoline preserves errno around its own bookkeeping.
//   - Not covered: sigvec (a compat symbol no binary can link to today)
//     installs its handler directly; such a handler interrupts no green wait.
#pragma once

namespace greenhub::preload {

// Whether the program has a handler for sig (installed through the
// trampoline and still in place); *restart tells whether it has SA_RESTART.
bool program_handles_signal(int sig, bool* restart);

}  // namespace greenhub::preload
