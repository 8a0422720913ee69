// wait, waitpid, wait3, wait4, waitid: see process_wait.hpp.
#include "process_wait.hpp"

#include <ev.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "green_thread.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

struct FdWatch {
  ev_io io;  // first member: the callback casts the watcher back
  WaitToken token;
};

void on_fd_ready(struct ev_loop*, ev_io* w, int) { Hub::wake(reinterpret_cast<FdWatch*>(w)->token); }

// A pidfd that closes itself, also when a cancellation unwinds the stack.
class Pidfd {
 public:
  explicit Pidfd(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~Pidfd() {
    if (owned_ && fd_ >= 0) close_raw(fd_);
  }
  Pidfd(const Pidfd&) = delete;
  Pidfd& operator=(const Pidfd&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

enum class Waited { kReady, kInterrupted, kCancelRequested };

// Parks until `fd` is readable. `signals`: a handler without SA_RESTART
// interrupts the wait. Returns kCancelRequested when a cancellation of the
// calling green thread is pending.
Waited wait_fd(Hub& hub, int fd, bool signals, bool cancellable, const char* what) {
  GreenThread* self = GreenThread::current();
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  g->set_waiting_on(what);
  Waited outcome = Waited::kReady;
  for (;;) {
    if (cancellable && self != nullptr && self->cancel_requested()) {
      outcome = Waited::kCancelRequested;
      break;
    }
    FdWatch watch;
    watch.token = hub.prepare_park();
    ev_io_init(&watch.io, on_fd_ready, fd, EV_READ);
    ev_io_start(hub.loop(), &watch.io);
    WakeReason reason;
    bool interrupted = false;
    {
      InterruptibleWait wait(hub, watch.token, InterruptibleWait::Kind::kRestartable);
      reason = hub.park(watch.token);
      ev_io_stop(hub.loop(), &watch.io);
      interrupted = signals && wait.interrupted();
    }
    if (interrupted) {
      outcome = Waited::kInterrupted;
      break;
    }
    if (reason == WakeReason::kWoken) break;
    // Interrupted by a cancellation (or a signal the caller ignores): ask again.
  }
  g->set_waiting_on(previous);
  return outcome;
}

// Sleeps `ns` greenly for a polled wait. Returns false if a handler
// without SA_RESTART interrupted it.
Waited poll_pause(Hub& hub, int64_t ns) {
  GreenThread* self = GreenThread::current();
  if (self != nullptr && self->cancel_requested()) return Waited::kCancelRequested;
  WaitToken token = hub.prepare_park();
  InterruptibleWait wait(hub, token, InterruptibleWait::Kind::kRestartable);
  hub.park(token, Deadline::after_seconds(static_cast<double>(ns) / 1e9));
  return wait.interrupted() ? Waited::kInterrupted : Waited::kReady;
}

constexpr int64_t kFirstPollNs = 1000000;   // 1 ms
constexpr int64_t kLastPollNs = 20000000;   // 20 ms

bool waits_for_termination_only(int options) { return (options & (WUNTRACED | WCONTINUED)) == 0; }

// wait4 for a green caller without WNOHANG.
pid_t green_wait4(Hub& hub, pid_t pid, int* status, int options, struct rusage* usage) {
  GreenThread* self = GreenThread::current();
  int64_t pause_ns = kFirstPollNs;
  for (;;) {
    if (self != nullptr) self->test_cancel();
    pid_t r = GREENHUB_REAL(wait4)(pid, status, options | WNOHANG, usage);
    if (r != 0) return r;
    Waited w;
    int fd = pid > 0 && waits_for_termination_only(options) ? open_pidfd(pid) : -1;
    if (fd >= 0) {
      Pidfd pidfd(fd, true);
      w = wait_fd(hub, pidfd.fd(), true, true, "waitpid");
    } else {
      w = poll_pause(hub, pause_ns);
      pause_ns = std::min(pause_ns * 2, kLastPollNs);
    }
    if (w == Waited::kInterrupted) {
      errno = EINTR;
      return -1;
    }
  }
}

int green_waitid(Hub& hub, idtype_t idtype, id_t id, siginfo_t* info, int options) {
  GreenThread* self = GreenThread::current();
  siginfo_t local;
  siginfo_t* out = info != nullptr ? info : &local;
  int64_t pause_ns = kFirstPollNs;
  for (;;) {
    if (self != nullptr) self->test_cancel();
    std::memset(out, 0, sizeof *out);
    int r = GREENHUB_REAL(waitid)(idtype, id, out, options | WNOHANG);
    if (r != 0 || out->si_pid != 0) return r;
    Waited w;
    const bool termination = (options & (WSTOPPED | WCONTINUED)) == 0;
    int fd = -1;
    bool owned = true;
    if (termination && idtype == P_PID) {
      fd = open_pidfd(static_cast<pid_t>(id));
    } else if (termination && idtype == P_PIDFD) {
      fd = static_cast<int>(id);
      owned = false;
    }
    if (fd >= 0) {
      Pidfd pidfd(fd, owned);
      w = wait_fd(hub, pidfd.fd(), true, true, "waitid");
    } else {
      w = poll_pause(hub, pause_ns);
      pause_ns = std::min(pause_ns * 2, kLastPollNs);
    }
    if (w == Waited::kInterrupted) {
      errno = EINTR;
      return -1;
    }
  }
}

}  // namespace

namespace greenhub::preload {

void wait_until_any_readable(Hub& hub, const int* fds, int count) {
  constexpr int kMax = 4;
  FdWatch watches[kMax];
  count = std::min(count, kMax);
  WaitToken token = hub.prepare_park();
  for (int i = 0; i < count; ++i) {
    watches[i].token = token;
    ev_io_init(&watches[i].io, on_fd_ready, fds[i], EV_READ);
    ev_io_start(hub.loop(), &watches[i].io);
  }
  for (;;) {
    if (hub.park(token) == WakeReason::kWoken) break;
    token = hub.prepare_park();
    for (int i = 0; i < count; ++i) watches[i].token = token;
  }
  for (int i = 0; i < count; ++i) ev_io_stop(hub.loop(), &watches[i].io);
}

int open_pidfd(pid_t pid) {
  long r = raw_syscall6(SYS_pidfd_open, pid, 0, 0, 0, 0, 0);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return static_cast<int>(r);
}

void close_raw(int fd) { raw_syscall6(SYS_close, fd, 0, 0, 0, 0, 0); }

ChildWait wait_until_child_exits(Hub& hub, pid_t pid, bool cancellable) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  if (GREENHUB_REAL(waitid)(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return ChildWait::kNotWaitable;
  }
  if (info.si_pid != 0) return ChildWait::kExited;
  int fd = open_pidfd(pid);
  if (fd < 0) return ChildWait::kNotWaitable;
  Pidfd pidfd(fd, true);
  return wait_fd(hub, pidfd.fd(), false, cancellable, "child exit") == Waited::kCancelRequested
             ? ChildWait::kCancelRequested
             : ChildWait::kExited;
}

}  // namespace greenhub::preload

// <sys/wait.h> declares wait3 and wait4 noexcept in C++, but they are
// cancellation points: a cancellation unwinds through them, which a
// noexcept frame would turn into std::terminate. Defined under other C++
// names, with the libc symbol names as assembler labels.
extern "C" pid_t greenhub_wait4(pid_t pid, int* status, int options, struct rusage* usage)
    __asm__("wait4");
extern "C" pid_t greenhub_wait3(int* status, int options, struct rusage* usage) __asm__("wait3");

extern "C" {

pid_t greenhub_wait4(pid_t pid, int* status, int options, struct rusage* usage) {
  Hub* hub = green_hub();
  if (hub == nullptr || (options & WNOHANG)) return GREENHUB_REAL(wait4)(pid, status, options, usage);
  return green_wait4(*hub, pid, status, options, usage);
}

pid_t waitpid(pid_t pid, int* status, int options) {
  Hub* hub = green_hub();
  if (hub == nullptr || (options & WNOHANG)) return GREENHUB_REAL(waitpid)(pid, status, options);
  return green_wait4(*hub, pid, status, options, nullptr);
}

pid_t __waitpid(pid_t pid, int* status, int options) { return waitpid(pid, status, options); }

pid_t wait(int* status) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(wait)(status);
  return green_wait4(*hub, -1, status, 0, nullptr);
}

pid_t __wait(int* status) { return wait(status); }

pid_t greenhub_wait3(int* status, int options, struct rusage* usage) {
  return greenhub_wait4(-1, status, options, usage);
}

int waitid(idtype_t idtype, id_t id, siginfo_t* info, int options) {
  Hub* hub = green_hub();
  if (hub == nullptr || (options & WNOHANG)) return GREENHUB_REAL(waitid)(idtype, id, info, options);
  return green_waitid(*hub, idtype, id, info, options);
}

}  // extern "C"
