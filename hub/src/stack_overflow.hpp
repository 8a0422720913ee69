// Stack-overflow reporting: a greenlet that runs into the guard below its
// stack gets one clear line on stderr, naming the greenlet and its stack
// size, and the process aborts.
//
// How it works
//   A process-wide SIGSEGV handler (SA_ONSTACK) runs on a per-thread
//   alternate signal stack, installed when a hub is created on a thread that
//   has none. If the faulting address lies in the guard of a pooled stack,
//   the handler reports and aborts. Any other fault is handed to the handler
//   that was installed before greenhub's (the program's, or a sanitizer's),
//   or re-raised with the default action.
#pragma once

namespace greenhub::detail {

// Installs the process-wide handler (once) and this thread's alternate
// signal stack (if the thread has none). Returns the mapping to free with
// release_alt_stack() when the thread's hub goes away, or nullptr.
void* install_overflow_detection();
void release_alt_stack(void* alt_stack);

}  // namespace greenhub::detail
