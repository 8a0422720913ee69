// PendingSignalWatch: a descriptor that becomes readable when a signal of
// a set is pending for the calling OS thread or for the process.
//
// Why: a green thread cannot sleep in the kernel until a signal comes
// (sigwait, sigsuspend, ppoll's mask) without stopping every green thread
// of its hub, and while it waits its signals stay blocked on the OS thread
// (the other green threads run with that mask). The watch lets such a
// wait park on the hub beside descriptors and timers, and wake when the
// kernel holds a signal for it.
//
// How it works
//   A signalfd of the set (non-blocking, close-on-exec), made private
//   (fd_table.hpp: moved high, out of the program's reach) so that it can
//   join an FdWaitSet like any descriptor. signalfd's readiness is the
//   pending signals of the thread that polls it plus the process's; the
//   hub's poller drains on the hub's thread, which is the waiting green
//   thread's OS thread. Nobody reads it: once woken, the waiter dequeues
//   with the call it emulates (sigtimedwait with a zero timeout), or
//   installs its mask so that the kernel delivers.
//   Watches are kept per OS thread (a daemon's signal thread loops on
//   sigwait, an event loop on pselect): taking one with the same set costs
//   nothing, with another set one signalfd() call to change its mask.
//
// Invariants
//   - No signal is missed between the caller's look for pending signals and
//     its park: the watch is registered (or its mask changed) before the
//     park, the poller drains only after it, and a signal that comes
//     meanwhile is an edge the drain reports with the watch's set of then.
//   - A watch serves one wait at a time; a forked child forgets the cache
//     (its private descriptors were closed by FdTable).
#pragma once

#include <signal.h>

namespace greenhub::preload {

class PendingSignalWatch {
 public:
  // fd() < 0 if `set` holds no signal or no signalfd could be made.
  explicit PendingSignalWatch(const sigset_t& set);
  ~PendingSignalWatch();
  PendingSignalWatch(const PendingSignalWatch&) = delete;
  PendingSignalWatch& operator=(const PendingSignalWatch&) = delete;

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// The signals the calling OS thread blocks and `wait_mask` does not: those
// a call that waits with that mask must notice (none if it is nullptr).
sigset_t signals_unblocked_by(const sigset_t* wait_mask);

}  // namespace greenhub::preload
