// Waiting on many descriptors, green: poll, ppoll, select, pselect (and
// __poll, __select, the fortified __poll_chk, __ppoll_chk).
//
// How it works
//   The kernel answers every question: a green caller first probes with a
//   zero timeout (the libc call itself, so revents, the fd_set results,
//   POLLNVAL, EBADF, EINVAL, EFAULT are the kernel's), and if nothing is
//   ready parks on the hub on every descriptor of the call (netpoll.hpp)
//   with the call's deadline; at any wake-up (an event, the deadline, a
//   spurious one) it probes again and returns what the probe says, so at
//   the deadline the call returns 0 or what became ready meanwhile, as the
//   kernel's final pass does. poll(NULL, 0, ms) and select with no sets are
//   green sleeps.
//
//   ppoll and pselect probe with the caller's signal mask, so a signal that
//   is pending and unblocked by that mask ends the call with EINTR as the
//   kernel's would; a signal handler that runs during the wait interrupts
//   it (EINTR; these calls are never restarted). select writes the time
//   left into the caller's timeval, as glibc's select does.
//
// Not reproduced: a descriptor closed while select waits on it makes the
// next probe fail with EBADF (the kernel's pass in progress would skip it).
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

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

extern "C" [[noreturn]] void __chk_fail(void);

using namespace greenhub;
using namespace greenhub::preload;

namespace {

uint32_t epoll_interest(short events) {
  uint32_t interest = 0;
  if (events & (POLLIN | POLLRDNORM | POLLRDBAND | POLLRDHUP)) interest |= EPOLLIN;
  if (events & (POLLOUT | POLLWRNORM | POLLWRBAND)) interest |= EPOLLOUT;
  if (events & POLLPRI) interest |= EPOLLPRI;
  return interest;
}

// Waits on `set` until probe() returns non-zero or the deadline passes
// (then returns the last probe). `blocking(ms)` is the libc call for a
// descriptor the hub cannot watch.
// `sigmask`: the mask the call waits with (ppoll, pselect), or nullptr.
template <class Probe, class Blocking>
int wait_and_probe(Hub& hub, FdWaitSet& set, const AbsDeadline& deadline, const sigset_t* sigmask,
                   Probe probe, Blocking blocking) {
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  for (;;) {
    if (deadline.expired()) return probe();
    g->set_waiting_on("poll");
    FdWaitSet::Result r =
        set.park(hub, deadline, FdWaitSet::Signals::kAnyHandler, SignalScope{sigmask, nullptr});
    g->set_waiting_on(previous);
    switch (r) {
      case FdWaitSet::Result::kSignaled:
        errno = EINTR;
        return -1;
      case FdWaitSet::Result::kUnpollable: {
        int64_t ns = deadline.infinite ? -1 : std::max<int64_t>(deadline.remaining_ns(), 0);
        int ms = ns < 0 ? -1 : static_cast<int>(std::min<int64_t>((ns + 999999) / 1000000, INT_MAX));
        return blocking(ms);
      }
      case FdWaitSet::Result::kTimedOut:
        return probe();
      case FdWaitSet::Result::kWoken:
      case FdWaitSet::Result::kInterrupted:
      case FdWaitSet::Result::kSignalTaken:
      case FdWaitSet::Result::kClosed:
        break;
    }
    cancellation_point();
    int n = probe();
    if (n != 0) return n;
  }
}

int green_poll(Hub& hub, pollfd* fds, nfds_t n, const AbsDeadline& deadline, const sigset_t* sigmask) {
  if (sigmask != nullptr && end_call_for_held_signal(sigmask)) return -1;
  auto probe = [&]() {
    if (sigmask == nullptr) return GREENHUB_REAL(poll)(fds, n, 0);
    timespec zero{0, 0};
    return GREENHUB_REAL(ppoll)(fds, n, &zero, sigmask);
  };
  int r = probe();
  if (r != 0) {  // ready, or the kernel's error (EFAULT, EINVAL, EINTR)
    note_returned_without_waiting(hub);
    return r;
  }
  size_t watched = 0;
  for (nfds_t i = 0; i < n; ++i) watched += fds[i].fd >= 0 ? 1 : 0;
  PendingSignalWatch signals(signals_unblocked_by(sigmask));
  FdWaitSet set(watched + 1);
  set.skip_unpollable();
  for (nfds_t i = 0; i < n; ++i) {
    if (fds[i].fd >= 0) set.add(fds[i].fd, epoll_interest(fds[i].events));
  }
  if (signals.fd() >= 0) set.add(signals.fd(), EPOLLIN);
  ErrnoKeeper keep;
  r = wait_and_probe(hub, set, deadline, sigmask, probe, [&](int ms) {
    if (sigmask == nullptr) return GREENHUB_REAL(poll)(fds, n, ms);
    timespec t = ns_to_timespec(static_cast<int64_t>(ms) * 1000000);
    return GREENHUB_REAL(ppoll)(fds, n, ms < 0 ? nullptr : &t, sigmask);
  });
  return r >= 0 ? keep.success(r) : r;
}

int green_ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* sigmask) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("ppoll", hub == nullptr ? trace::Route::kNotGreenThread : hub == nullptr ? trace::Route::kCallerNonblock : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(ppoll)(fds, n, timeout, sigmask);
  AbsDeadline deadline = AbsDeadline::never();
  if (timeout != nullptr) {
    const timespec t = *timeout;  // glibc reads it too (a bad pointer faults there)
    if (!valid_timespec(t) || t.tv_sec < 0) {
      errno = EINVAL;
      return -1;
    }
    if (t.tv_sec == 0 && t.tv_nsec == 0) {
      return returned_without_waiting(*hub, GREENHUB_REAL(ppoll)(fds, n, timeout, sigmask));
    }
    deadline = AbsDeadline::after_ns(timespec_to_ns(t));
  }
  cancellation_point();
  return green_poll(*hub, fds, n, deadline, sigmask);
}

// --- select ---------------------------------------------------------------------

constexpr int kBitsPerWord = static_cast<int>(sizeof(unsigned long) * CHAR_BIT);

// The caller's three fd_sets, kept so that every probe starts from them.
class SelectSets {
 public:
  SelectSets(int nfds, fd_set* r, fd_set* w, fd_set* x) : user_{r, w, x} {
    words_ = (static_cast<size_t>(nfds) + kBitsPerWord - 1) / kBitsPerWord;
  }
  // Copies the sets in; false (EFAULT) if one is not readable.
  bool load() {
    for (int k = 0; k < 3; ++k) {
      if (user_[k] == nullptr) continue;
      saved_[k].resize(words_);
      if (!copy_from_program(saved_[k].data(), user_[k], words_ * sizeof(unsigned long))) return false;
    }
    return true;
  }
  void restore() {
    for (int k = 0; k < 3; ++k) {
      if (user_[k] != nullptr && words_ > 0) {
        std::memcpy(static_cast<void*>(user_[k]), saved_[k].data(), words_ * sizeof(unsigned long));
      }
    }
  }
  // Calls fn(fd, epoll interest) for each descriptor in a set.
  template <class Fn>
  void for_each(Fn fn) const {
    for (size_t w = 0; w < words_; ++w) {
      unsigned long any = 0;
      for (int k = 0; k < 3; ++k) any |= user_[k] != nullptr ? saved_[k][w] : 0;
      while (any != 0) {
        const int bit = __builtin_ctzl(any);
        any &= any - 1;
        const unsigned long mask = 1ul << bit;
        uint32_t interest = 0;
        if (user_[0] != nullptr && (saved_[0][w] & mask)) interest |= EPOLLIN;
        if (user_[1] != nullptr && (saved_[1][w] & mask)) interest |= EPOLLOUT;
        if (user_[2] != nullptr && (saved_[2][w] & mask)) interest |= EPOLLPRI;
        fn(static_cast<int>(w * kBitsPerWord + static_cast<size_t>(bit)), interest);
      }
    }
  }
  size_t count() const {
    size_t n = 0;
    for_each([&](int, uint32_t) { ++n; });
    return n;
  }

 private:
  fd_set* user_[3];
  std::vector<unsigned long> saved_[3];
  size_t words_;
};

int green_select(Hub& hub, int nfds, fd_set* r, fd_set* w, fd_set* x, const AbsDeadline& deadline,
                 const sigset_t* sigmask) {
  auto probe_now = [&]() {
    timespec zero{0, 0};
    return GREENHUB_REAL(pselect)(nfds, r, w, x, &zero, sigmask);
  };
  if (nfds < 0) return probe_now();  // EINVAL
  if (sigmask != nullptr && end_call_for_held_signal(sigmask)) return -1;
  // The kernel looks at no more descriptors than the process may have.
  int clamped = nfds;
  if (clamped > FD_SETSIZE) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(clamped)) {
      clamped = static_cast<int>(std::max<rlim_t>(rl.rlim_cur, FD_SETSIZE));
    }
  }
  SelectSets sets(clamped, r, w, x);
  if (!sets.load()) return probe_now();  // the kernel's EFAULT
  int n = probe_now();
  if (n != 0) {
    note_returned_without_waiting(hub);
    return n;
  }
  PendingSignalWatch signals(signals_unblocked_by(sigmask));
  FdWaitSet set(sets.count() + 1);
  set.skip_unpollable();
  sets.for_each([&](int fd, uint32_t interest) { set.add(fd, interest); });
  if (signals.fd() >= 0) set.add(signals.fd(), EPOLLIN);
  auto probe = [&]() {
    sets.restore();
    return probe_now();
  };
  ErrnoKeeper keep;
  n = wait_and_probe(hub, set, deadline, sigmask, probe, [&](int ms) {
    sets.restore();
    timespec t = ns_to_timespec(static_cast<int64_t>(ms) * 1000000);
    return GREENHUB_REAL(pselect)(nfds, r, w, x, ms < 0 ? nullptr : &t, sigmask);
  });
  if (n >= 0) return keep.success(n);
  // A failed select leaves the caller's sets as they were (a program
  // retrying after EINTR passes them again).
  sets.restore();
  return n;
}

// select's timeval, as glibc reads it: negative parts are EINVAL, the
// microseconds may exceed a second.
bool select_deadline(const timeval* tv, AbsDeadline* deadline, bool* zero) {
  if (tv == nullptr) {
    *deadline = AbsDeadline::never();
    *zero = false;
    return true;
  }
  const timeval t = *tv;
  if (t.tv_sec < 0 || t.tv_usec < 0) return false;
  int64_t ns;
  if (t.tv_sec > (INT64_MAX / 1000000000) - 1) ns = INT64_MAX / 2;
  else ns = static_cast<int64_t>(t.tv_sec) * 1000000000 + static_cast<int64_t>(t.tv_usec) * 1000;
  *zero = ns == 0;
  *deadline = AbsDeadline::after_ns(ns);
  return true;
}

}  // namespace

extern "C" {

int poll(struct pollfd* fds, nfds_t n, int timeout) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("poll", hub == nullptr ? trace::Route::kNotGreenThread : timeout == 0 ? trace::Route::kCallerNonblock : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(poll)(fds, n, timeout);
  if (timeout == 0) {
    return returned_without_waiting(*hub, GREENHUB_REAL(poll)(fds, n, timeout));
  }
  cancellation_point();
  AbsDeadline deadline = timeout < 0 ? AbsDeadline::never()
                                     : AbsDeadline::after_ns(static_cast<int64_t>(timeout) * 1000000);
  return green_poll(*hub, fds, n, deadline, nullptr);
}

int __poll(struct pollfd* fds, nfds_t n, int timeout) { return poll(fds, n, timeout); }

int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
  if (fdslen / sizeof(*fds) < n) __chk_fail();
  return poll(fds, n, timeout);
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* timeout, const sigset_t* sigmask) {
  return green_ppoll(fds, n, timeout, sigmask);
}

int __ppoll_chk(struct pollfd* fds, nfds_t n, const struct timespec* timeout, const sigset_t* sigmask,
                size_t fdslen) {
  if (fdslen / sizeof(*fds) < n) __chk_fail();
  return green_ppoll(fds, n, timeout, sigmask);
}

int select(int nfds, fd_set* r, fd_set* w, fd_set* x, struct timeval* tv) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("select", hub == nullptr ? trace::Route::kNotGreenThread : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(select)(nfds, r, w, x, tv);
  AbsDeadline deadline;
  bool zero = false;
  if (!select_deadline(tv, &deadline, &zero)) {
    errno = EINVAL;
    return -1;
  }
  if (zero) {
    return returned_without_waiting(*hub, GREENHUB_REAL(select)(nfds, r, w, x, tv));
  }
  cancellation_point();
  int n = green_select(*hub, nfds, r, w, x, deadline, nullptr);
  if (tv != nullptr) {
    // glibc's select leaves the time not slept in *tv.
    const int saved = errno;
    int64_t left = std::max<int64_t>(deadline.remaining_ns(), 0);
    tv->tv_sec = static_cast<time_t>(left / 1000000000);
    tv->tv_usec = static_cast<suseconds_t>((left % 1000000000) / 1000);
    errno = saved;
  }
  return n;
}

int __select(int nfds, fd_set* r, fd_set* w, fd_set* x, struct timeval* tv) {
  return select(nfds, r, w, x, tv);
}

int pselect(int nfds, fd_set* r, fd_set* w, fd_set* x, const struct timespec* timeout,
            const sigset_t* sigmask) {
  Hub* hub = green_hub();
  if (trace::counting()) trace::detail::count_slow("pselect", hub == nullptr ? trace::Route::kNotGreenThread : trace::Route::kGreen);
  if (hub == nullptr) return GREENHUB_REAL(pselect)(nfds, r, w, x, timeout, sigmask);
  AbsDeadline deadline = AbsDeadline::never();
  if (timeout != nullptr) {
    const timespec t = *timeout;  // glibc reads it too
    if (!valid_timespec(t) || t.tv_sec < 0) {
      errno = EINVAL;
      return -1;
    }
    if (t.tv_sec == 0 && t.tv_nsec == 0) {
      return returned_without_waiting(*hub, GREENHUB_REAL(pselect)(nfds, r, w, x, timeout, sigmask));
    }
    deadline = AbsDeadline::after_ns(timespec_to_ns(t));
  }
  cancellation_point();
  return green_select(*hub, nfds, r, w, x, deadline, sigmask);
}

}  // extern "C"
