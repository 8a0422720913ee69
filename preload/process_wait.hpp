// Waiting for child processes, green: wait, waitpid, wait3, wait4, waitid
// (and __wait, __waitpid).
//
// How it works
//   A green caller first asks the kernel without blocking (WNOHANG): a
//   child that already changed state, a bad argument or no such child
//   (ECHILD) is answered at once, exactly as the kernel answers. Otherwise:
//   - for one specific child (pid > 0, P_PID, P_PIDFD) waited for its
//     termination only, the green thread waits on a pidfd (pidfd_open),
//     which becomes readable when the child exits, then asks the kernel
//     again with the caller's own options (the child is a zombie by then,
//     so the call does not block);
//   - otherwise (any child, a process group, WUNTRACED/WCONTINUED), it
//     polls with WNOHANG, sleeping greenly 1 ms, doubling to 20 ms.
//   Each wait is a cancellation point, and an interruptible wait of the
//   restartable kind: a handler installed without SA_RESTART that
//   interrupts it makes the call fail with EINTR, as natively.
//   Non-green callers, and calls with WNOHANG, go straight to libc.
//
// Not reproduced: the polled cases notice a state change up to 20 ms
// late.
#pragma once

#include <sys/types.h>

#include "greenhub/runtime.hpp"

namespace greenhub::preload {

// Waits, greenly, until one of `fds` is readable (or hung up). Not
// interruptible, not a cancellation point.
void wait_until_any_readable(Hub& hub, const int* fds, int count);

// pidfd_open and close as raw system calls (never an interposed function);
// -1 with errno on failure.
int open_pidfd(pid_t pid);
void close_raw(int fd);

// For pclose() and system(), from a green thread: waits, greenly, until
// child `pid` has terminated, without reaping it. Signal handlers do not
// interrupt it (the callers retry on EINTR). If `cancellable`, returns
// kCancelRequested as soon as a cancellation of the calling green thread
// is pending (the caller cleans up, then acts on it).
enum class ChildWait { kExited, kCancelRequested, kNotWaitable };
ChildWait wait_until_child_exits(Hub& hub, pid_t pid, bool cancellable);

}  // namespace greenhub::preload
