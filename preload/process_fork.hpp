// fork, _Fork, vfork: the runtime across process creation.
//
// fork() and __fork() (and glibc's internal forks, daemon() for one) run
// the preload's pthread_atfork handlers, registered at start-up, so before
// any handler the program registers from main(): the prepare handler runs
// after the program's, the child handler before the program's.
//   prepare: takes the runtime's process-wide locks (the stack pool), so the
//            child inherits that state consistent.
//   parent:  releases them.
//   child:   on the forking thread, the child's only thread:
//     - every spin lock another thread may have held is released, and what
//       it guarded is rebuilt or known to be irrelevant: the parking lot's
//       buckets are emptied (every waiter was another thread), the
//       registry of green threads holds the forking green thread alone, the
//       key table's lock is released;
//     - the forking thread's hub keeps only the forking greenlet and gets a
//       fresh libev loop (Hub::reset_in_forked_child): the child keeps only
//       the forking green thread, on a working hub;
//     - the other GREENHUB_HUBS-1 hubs' threads do not exist in the child;
//       they are started again when the child first creates a green
//       thread (a child that only execs pays for none);
//     - if the forking thread was a runtime hub thread, its signal mask
//       becomes the program's (signal_mask.hpp), since it is now the
//       process's main thread;
//     - if the forking green thread is not main(), main()'s context is
//       gone: the child ends, as natively, when its last thread ends
//       (process_exit.hpp), and that green thread is the one process-
//       directed signals interrupt (signal_interrupt.hpp);
//     - the hooks other modules registered with at_fork_child() run.
//   A fork from a thread the preload did not make green (a libc helper
//   thread, before start-up) leaves the runtime off in the child: its calls
//   go straight to libc.
//
// _Fork() runs no handlers and its child may only call async-signal-safe
// functions: the runtime is off in its child (initialized() is false and
// every call goes to libc), and the child's signal mask is the program's.
//
// vfork() is fork() whose parent waits, greenly, until the child has
// exec'ed or exited (a close-on-exec pipe reaches end-of-file, or the
// child's pidfd becomes readable), as vfork suspends the calling thread
// until then. The child gets a copy of the memory instead of sharing the
// parent's (POSIX allows vfork to be fork; sharing would let the child's
// interposed calls change the parent's runtime state), and atfork handlers
// run, the program's included, as for fork(): the runtime's own child
// handler must run there, since the child shares the parent's descriptors
// (the pollers' epoll instances among them) and closes some before it
// execs.
#pragma once

namespace greenhub::preload {

// Registers `hook` to run in a child made by fork(), on the forking
// thread, after the runtime's reset and before the program's handlers.
// For modules with process-wide state. Call it before the first fork
// (at static initialisation).
void at_fork_child(void (*hook)());

}  // namespace greenhub::preload
