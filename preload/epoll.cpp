// A green thread's own epoll instances: epoll_create, epoll_create1,
// epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.
//
// How it works
//   The program's epoll instance is a descriptor like any other to the
//   hub: a green epoll_wait probes it (epoll_wait with a zero timeout; with
//   the caller's signal mask for epoll_pwait and epoll_pwait2), and if no
//   event is ready parks until the instance becomes readable
//   (netpoll.hpp), the deadline passes or a signal handler runs (EINTR;
//   never restarted), then probes again. At the deadline it returns the
//   last probe, as the kernel's final check does. A signal pending and
//   unblocked by epoll_pwait's mask ends the call with EINTR (checked at
//   each probe: one that becomes pending during the wait is seen at the
//   next wake-up, or the deadline). epoll_ctl and the
//   instance's own semantics (dup'd descriptors stay registered after the
//   original is closed, EPERM for regular files, EPOLLET, EPOLLONESHOT...)
//   are the kernel's: those calls go to libc.
//
//   A thread still waiting when the program closes the instance keeps
//   waiting on it (netpoll.hpp: a private duplicate), as the kernel's
//   blocked epoll_wait keeps its file.
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "busy_poll.hpp"
#include "greenhub/call_counters.hpp"
#include "deadline.hpp"
#include "fd_table.hpp"
#include "green_io.hpp"
#include "netpoll.hpp"
#include "program_memory.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"
#include "signal_watch.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

// epoll_pwait with a zero timeout returns before it looks at signals
// (unlike ppoll and pselect): a signal pending for the caller that `mask`
// unblocks is delivered here, as the kernel's wait would deliver it, and
// the call fails with EINTR. The handler runs with `mask` installed.
bool deliver_pending_unblocked(const sigset_t* mask) {
  if (end_call_for_held_signal(mask)) return true;
  sigset_t pending;
  if (sigpending(&pending) != 0) return false;
  bool any = false;
  for (int sig = 1; sig < NSIG && !any; ++sig) {
    any = sigismember(&pending, sig) == 1 && sigismember(mask, sig) == 0;
  }
  if (!any) return false;
  deliver_pending_with_mask(mask);
  errno = EINTR;
  return true;
}

int green_epoll_wait(Hub& hub, int epfd, epoll_event* events, int max, const AbsDeadline& deadline,
                     const sigset_t* sigmask) {
  auto probe = [&](int fd) {
    if (sigmask == nullptr) return GREENHUB_REAL(epoll_wait)(fd, events, max, 0);
    int n = GREENHUB_REAL(epoll_pwait)(fd, events, max, 0, sigmask);
    if (n == 0 && deliver_pending_unblocked(sigmask)) return -1;
    return n;
  };
  int n = probe(epfd);
  if (n != 0) {
    note_returned_without_waiting(hub);
    return n;
  }  // events, or the kernel's error (EBADF, EINVAL, EFAULT, EINTR)
  ErrnoKeeper keep;
  PendingSignalWatch signals(signals_unblocked_by(sigmask));
  FdWaitSet set(2);
  set.add(epfd, EPOLLIN);
  if (signals.fd() >= 0) set.add(signals.fd(), EPOLLIN);
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  for (;;) {
    if (deadline.expired()) break;
    g->set_waiting_on("epoll_wait");
    FdWaitSet::Result r =
        set.park(hub, deadline, FdWaitSet::Signals::kAnyHandler, SignalScope{sigmask, nullptr});
    g->set_waiting_on(previous);
    switch (r) {
      case FdWaitSet::Result::kSignaled:
        errno = EINTR;
        return -1;
      case FdWaitSet::Result::kUnpollable: {
        // Nested too deep for the hub's poller (ELOOP): wait in libc.
        int64_t ns = deadline.infinite ? -1 : std::max<int64_t>(deadline.remaining_ns(), 0);
        int ms = ns < 0 ? -1 : static_cast<int>(std::min<int64_t>((ns + 999999) / 1000000, INT_MAX));
        return GREENHUB_REAL(epoll_pwait)(set.fd(0), events, max, ms, sigmask);
      }
      case FdWaitSet::Result::kTimedOut:
        break;
      case FdWaitSet::Result::kWoken:
      case FdWaitSet::Result::kInterrupted:
      case FdWaitSet::Result::kSignalTaken:
      case FdWaitSet::Result::kClosed:
        cancellation_point();
        n = probe(set.fd(0));
        if (n > 0) return keep.success(n);
        if (n < 0) return n;
        continue;
    }
    break;
  }
  n = probe(set.fd(0));
  return n >= 0 ? keep.success(n) : n;
}

AbsDeadline deadline_from_ms(int timeout) {
  return timeout < 0 ? AbsDeadline::never() : AbsDeadline::after_ns(static_cast<int64_t>(timeout) * 1000000);
}

}  // namespace

extern "C" {

// The hubs' libev loops make their backends here: those are the runtime's.
int epoll_create(int size) noexcept {
  int fd = GREENHUB_REAL(epoll_create)(size);
  if (fd >= 0) {
    if (FdTable::called_by_event_loop(__builtin_return_address(0))) fd = FdTable::make_private(fd);
    else FdTable::created(fd, FdKind::kAnon, 0, false, 0);
  }
  return fd;
}

int epoll_create1(int flags) noexcept {
  int fd = GREENHUB_REAL(epoll_create1)(flags);
  if (fd >= 0) {
    if (FdTable::called_by_event_loop(__builtin_return_address(0))) fd = FdTable::make_private(fd);
    else FdTable::created(fd, FdKind::kAnon, 0, false, 0);
  }
  return fd;
}

// The hubs' libev loops call this on their own instances (to watch the
// pollers'): a pass-through.
int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) noexcept {
  return GREENHUB_REAL(epoll_ctl)(epfd, op, fd, event);
}

// Not a waiting call: interposed only to recognise libev's wake-up eventfd
// as the runtime's.
int eventfd(unsigned int count, int flags) noexcept {
  int fd = GREENHUB_REAL(eventfd)(count, flags);
  if (fd >= 0 && FdTable::called_by_event_loop(__builtin_return_address(0))) fd = FdTable::make_private(fd);
  return fd;
}

int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("epoll_wait", hub == nullptr ? trace::Route::kNotGreenThread : timeout == 0 ? trace::Route::kCallerNonblock : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(epoll_wait)(epfd, events, max, timeout);
  if (timeout == 0) {
    return returned_without_waiting(*hub, GREENHUB_REAL(epoll_wait)(epfd, events, max, timeout));
  }
  cancellation_point();
  return green_epoll_wait(*hub, epfd, events, max, deadline_from_ms(timeout), nullptr);
}

int epoll_pwait(int epfd, struct epoll_event* events, int max, int timeout, const sigset_t* sigmask) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("epoll_pwait", hub == nullptr ? trace::Route::kNotGreenThread : timeout == 0 ? trace::Route::kCallerNonblock : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(epoll_pwait)(epfd, events, max, timeout, sigmask);
  if (timeout == 0) {
    return returned_without_waiting(*hub, GREENHUB_REAL(epoll_pwait)(epfd, events, max, timeout, sigmask));
  }
  cancellation_point();
  return green_epoll_wait(*hub, epfd, events, max, deadline_from_ms(timeout), sigmask);
}

int epoll_pwait2(int epfd, struct epoll_event* events, int max, const struct timespec* timeout,
                 const sigset_t* sigmask) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("epoll_pwait2", hub == nullptr ? trace::Route::kNotGreenThread : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(epoll_pwait2)(epfd, events, max, timeout, sigmask);
  AbsDeadline deadline = AbsDeadline::never();
  if (timeout != nullptr) {
    // glibc passes the pointer to the kernel, which fails a bad one with
    // EFAULT and a bad value with EINVAL.
    timespec t{};
    if (!copy_from_program(&t, timeout, sizeof t)) {
      errno = EFAULT;
      return -1;
    }
    if (!valid_timespec(t) || t.tv_sec < 0) {
      errno = EINVAL;
      return -1;
    }
    if (t.tv_sec == 0 && t.tv_nsec == 0) return GREENHUB_REAL(epoll_pwait2)(epfd, events, max, timeout, sigmask);
    deadline = AbsDeadline::after_ns(timespec_to_ns(t));
  }
  cancellation_point();
  return green_epoll_wait(*hub, epfd, events, max, deadline, sigmask);
}

}  // extern "C"
