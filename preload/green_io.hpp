// GreenIo: one blocking call of a green thread on one descriptor.
//
// How it works
//   The shims make each attempt of a blocking call non-blocking (MSG_DONTWAIT
//   on sockets, RWF_NOWAIT on pipes, a descriptor the preload altered) and,
//   when the attempt fails with EAGAIN, ask wait() what the program would
//   have seen. The first wait() reads the program's view of the descriptor
//   once, as the kernel does at the start of a call: its O_NONBLOCK (set:
//   the call fails with EAGAIN at once) and its SO_RCVTIMEO / SO_SNDTIMEO
//   (the whole call's deadline). Then it parks on the hub (netpoll.hpp)
//   until the descriptor may be ready, and the caller tries again.
//
//   The call keeps the file it started with: if the program closes the
//   descriptor meanwhile, fd() becomes a private duplicate of that file, as
//   a blocked system call keeps its file. A call whose number changed file
//   before it could wait fails with EBADF.
//
//   Signals: a handler interrupts the wait as the kernel interrupts the
//   system call (signal_interrupt.hpp): always for a socket with a timeout
//   (never restarted, as socket(7) says), otherwise only a handler
//   installed without SA_RESTART. The call then fails with EINTR, or
//   returns the bytes it had already moved.
#pragma once

#include <poll.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "deadline.hpp"
#include "fd_table.hpp"
#include "greenhub/call_counters.hpp"
#include "greenhub/runtime.hpp"
#include "netpoll.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {

// Acts on a pending cancellation of the calling green thread.
void cancellation_point();

// A successful call leaves errno as it found it, even though the preload's
// own attempts on the way failed with EAGAIN.
class ErrnoKeeper {
 public:
  ErrnoKeeper() : saved_(errno) {}
  template <class T>
  T success(T value) const {
    errno = saved_;
    return value;
  }

 private:
  int saved_;
};

class GreenIo {
 public:
  enum class Verdict {
    kRetry,        // try again (woken, or spuriously)
    kFail,         // the call fails with errno (EAGAIN, EINTR, EBADF)
    kBlockInLibc,  // the descriptor cannot be watched: make the libc call
  };

  // `label` says what the green thread waits on (a string literal).
  GreenIo(Hub& hub, int fd, FdState& e, SockTimeout timeout, const char* label);
  // Counts the call (call_counters.hpp): green, or why it went to libc.
  ~GreenIo();
  GreenIo(const GreenIo&) = delete;
  GreenIo& operator=(const GreenIo&) = delete;

  // The descriptor for the next attempt.
  int fd() const { return fd_; }
  // The call decides blocking itself (the descriptor's flag is not consulted).
  void assume_blocking() { assume_blocking_ = true; }
  // After an attempt would have blocked: waits for `events` (EPOLLIN,
  // EPOLLOUT). kFail sets errno: EAGAIN (the program's descriptor is
  // non-blocking, or the timeout passed: see timed_out()), EINTR, EBADF.
  Verdict wait(uint32_t events);
  bool timed_out() const { return timed_out_; }
  // Starts the socket timeout over (recvmmsg: each datagram has its own).
  void restart_timeout() { started_ = false; }
  // Whether the wait honours a socket timeout (and is never restarted).
  bool has_timeout() const { return !deadline_.infinite; }

 private:
  Hub& hub_;
  int fd_;
  FdState* entry_;
  SockTimeout timeout_;
  const char* label_;
  uint32_t generation_;
  bool started_ = false;
  bool assume_blocking_ = false;
  bool timed_out_ = false;
  trace::Route route_ = trace::Route::kGreen;
  const char* counted_call_ = nullptr;  // green_entry's call, counted once at the end
  AbsDeadline deadline_;
  FdWaitSet::Signals signals_ = FdWaitSet::Signals::kNonRestarting;
  FdWaitSet set_{1};
};

// The per-call counters (call_counters.hpp): green_entry names the call
// being decided (its caller's function name); whoever decides its route
// (GreenIo, or a shim sending it to libc) counts it once.
inline thread_local const char* counted_call = nullptr;
inline void count_decided(trace::Route route) {
  if (trace::counting() && counted_call != nullptr) {
    trace::detail::count_slow(counted_call, route);
    counted_call = nullptr;
  }
}

// The "green or libc" entry of every shim: the hub to wait on and the
// descriptor's entry, or false (go to libc).
inline bool green_entry(int fd, Hub** hub, FdState** e, const char* call = __builtin_FUNCTION()) {
  Hub* h = green_hub();
  if (h == nullptr) {
    if (trace::counting()) {
      trace::detail::count_slow(call, initialized() ? trace::Route::kNotGreenThread
                                                    : trace::Route::kRuntimeOff);
    }
    return false;
  }
  FdState* s = FdTable::get(fd);
  if (s == nullptr) {
    trace::count(call, trace::Route::kBadFd);
    return false;
  }
  if (trace::counting()) counted_call = call;
  *hub = h;
  *e = s;
  return true;
}

// --- the waiting loops of the shims ----------------------------------------

// A call that returns as soon as anything came: attempt(fd) until it does
// not fail with EAGAIN, waiting for input in between. `wait_first`: the
// descriptor is known to be empty (drained_input.hpp), wait before the
// first attempt. When the timeout expires, one more attempt, as the
// kernel's wait looks at the queue once more before it answers EAGAIN.
template <class Attempt, class Blocking, class R = std::invoke_result_t<Attempt, int>>
R wait_input(Hub& hub, int fd, FdState& e, SockTimeout timeout, const char* label, Attempt attempt,
             Blocking blocking, bool wait_first = false) {
  ErrnoKeeper keep;
  GreenIo io(hub, fd, e, timeout, label);
  for (bool try_now = !wait_first;; try_now = true) {
    if (try_now) {
      R r = attempt(io.fd());
      if (r >= 0) return keep.success(r);
      if (errno != EAGAIN) return -1;
    }
    switch (io.wait(EPOLLIN)) {
      case GreenIo::Verdict::kRetry:
        break;
      case GreenIo::Verdict::kFail: {
        if (!io.timed_out()) return -1;
        R r = attempt(io.fd());
        if (r >= 0) return keep.success(r);
        return -1;  // EAGAIN, or what the kernel answered
      }
      case GreenIo::Verdict::kBlockInLibc:
        return blocking(io.fd());
    }
  }
}

// A call that moves `total()` bytes: attempt(fd, done) moves some of what
// is left. `whole`: keep going until all moved (stream sockets and pipes),
// else one attempt that succeeds ends the call. `events`: what to wait for.
// total() is asked only after an attempt succeeded, so that it may read the
// caller's iovecs once the kernel has accepted them.
template <class Total, class Attempt, class Blocking>
ssize_t wait_transfer(Hub& hub, int fd, FdState& e, SockTimeout timeout, const char* label,
                      uint32_t events, Total total, bool whole, Attempt attempt,
                      Blocking blocking) {
  ErrnoKeeper keep;
  GreenIo io(hub, fd, e, timeout, label);
  size_t done = 0;
  for (;;) {
    ssize_t r = attempt(io.fd(), done);
    if (r >= 0) {
      if (!whole) return keep.success(r);
      if (r == 0 && done > 0) return keep.success(static_cast<ssize_t>(done));  // EOF (MSG_WAITALL)
      done += static_cast<size_t>(r);
      if (done >= total()) return keep.success(static_cast<ssize_t>(done));
      if (r == 0) return keep.success(static_cast<ssize_t>(done));  // EOF
    } else if (errno != EAGAIN) {
      return done > 0 ? keep.success(static_cast<ssize_t>(done)) : -1;
    }
    switch (io.wait(events)) {
      case GreenIo::Verdict::kRetry:
        break;
      case GreenIo::Verdict::kFail:
        return done > 0 ? keep.success(static_cast<ssize_t>(done)) : -1;
      case GreenIo::Verdict::kBlockInLibc: {
        ssize_t b = blocking(io.fd(), done);
        if (b >= 0) return keep.success(static_cast<ssize_t>(done + static_cast<size_t>(b)));
        return done > 0 ? keep.success(static_cast<ssize_t>(done)) : -1;
      }
    }
  }
}

// For descriptors without a per-call non-blocking form: wait until poll
// says `events`, then make the libc call (its result type R).
template <class Call, class R = std::invoke_result_t<Call, int>>
R poll_then_call(Hub& hub, int fd, FdState& e, short events, const char* label, Call call,
                 SockTimeout timeout = SockTimeout::kNone) {
  if (FdTable::program_nonblock(fd, e)) return call(fd);
  GreenIo io(hub, fd, e, timeout, label);
  io.assume_blocking();
  for (;;) {
    pollfd p{io.fd(), events, 0};
    if (GREENHUB_REAL(poll)(&p, 1, 0) != 0) return call(io.fd());
    switch (io.wait(events == POLLIN ? EPOLLIN : EPOLLOUT)) {
      case GreenIo::Verdict::kRetry:
        break;
      case GreenIo::Verdict::kFail:
        return -1;
      case GreenIo::Verdict::kBlockInLibc:
        return call(io.fd());
    }
  }
}

}  // namespace greenhub::preload
