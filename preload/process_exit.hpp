// A process ends with its last thread.
//
// Natively, when the last thread of a process ends (returns from its start
// routine or calls pthread_exit), the process exits with status 0: glibc
// calls exit(0) when its thread count drops to zero. main() is one of the
// threads, so under the preload this only matters once main()'s context is
// gone: in a child made by fork() from a green thread, whose only thread is
// that green thread. Then the last green thread to finish makes the process
// exit(0), from its hub's loop (not on the dying green thread's stack).
#pragma once

namespace greenhub::preload {

// The process's main context no longer exists (a child forked by a green
// thread): from now on the last green thread to finish ends the process.
void mark_main_context_gone();

// Called by every green thread once it has finished.
void exit_process_if_last_thread();

}  // namespace greenhub::preload
