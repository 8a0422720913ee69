// Waiting for signals, green: sigwait, sigwaitinfo, sigtimedwait,
// sigsuspend (and __sigsuspend).
//
// How it works
//   sigwait and its kin first ask the kernel without blocking
//   (sigtimedwait with a zero timeout): a signal of the set pending for
//   the OS thread or the process is taken at once, with the kernel's
//   siginfo. Otherwise the green thread parks on a PendingSignalWatch of
//   the set (signal_watch.hpp) and asks again when it is readable. A
//   signal sent to the waiting green thread itself (pthread_kill,
//   pthread_sigqueue) is handed to its wait directly (signal_interrupt.hpp),
//   which sends it again the same way to its own OS thread and dequeues
//   it: the siginfo is the kernel's.
//   Signals held for the caller (sent to it while it blocked them:
//   signal_mask.hpp) are taken first.
//   The kernel lets a waiting thread take the signals of its set even if it
//   does not block them (it unblocks the set for the wait, for itself).
//   For a caller that owns its OS thread's mask (main()), those of the set
//   it does not block are blocked on the OS thread for the wait instead
//   (counted per OS thread), so that they stay pending for the wait
//   instead of running a handler.
//
//   sigsuspend(mask) returns when a handler ran with `mask` installed. The
//   signals that are pending and that `mask` unblocks are delivered at
//   once with `mask` installed for the delivery; otherwise the green thread
//   parks, with the OS thread's mask left as it is, on a watch of the
//   signals `mask` would unblock, and delivers them the same way when one
//   comes. A handler that runs for the thread meanwhile (a signal its mask
//   lets through, or one sent to it that `mask` unblocks) ends the wait.
//
//   Results as the kernel's: sigtimedwait fails with EAGAIN at its timeout
//   (relative, CLOCK_MONOTONIC), sigwaitinfo and sigtimedwait with EINTR
//   when a handler interrupts them (never restarted), sigwait retries as
//   glibc's does. Bad arguments (a set or timeout that cannot be read, an
//   invalid timeout) and a zero timeout go to libc, which answers without
//   blocking. All are
//   cancellation points.
//
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <pthread.h>

#include <cerrno>
#include <optional>

#include "deadline.hpp"
#include "green_io.hpp"
#include "netpoll.hpp"
#include "program_memory.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"
#include "signal_mask.hpp"
#include "signal_watch.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

// Per OS thread: how many signal waits blocked each signal for themselves.
constinit thread_local uint16_t blocked_for_waits[NSIG]{};

// Blocks, for one wait, the signals of `set` that the OS thread does not
// block (or that another wait blocked for itself).
class BlockedForWait {
 public:
  explicit BlockedForWait(const sigset_t& set) {
    sigset_t mask;
    GREENHUB_REAL(pthread_sigmask)(SIG_BLOCK, nullptr, &mask);
    sigemptyset(&counted_);
    sigset_t add;
    sigemptyset(&add);
    bool any = false;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP || sigismember(&set, sig) != 1) continue;
      if (sigismember(&mask, sig) == 1 && blocked_for_waits[sig] == 0) continue;  // the program's
      sigaddset(&counted_, sig);
      if (blocked_for_waits[sig]++ == 0) {
        sigaddset(&add, sig);
        any = true;
      }
    }
    if (any) GREENHUB_REAL(pthread_sigmask)(SIG_BLOCK, &add, nullptr);
  }
  ~BlockedForWait() {
    sigset_t release;
    sigemptyset(&release);
    bool any = false;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sigismember(&counted_, sig) != 1) continue;
      if (--blocked_for_waits[sig] == 0) {
        sigaddset(&release, sig);
        any = true;
      }
    }
    if (any) GREENHUB_REAL(pthread_sigmask)(SIG_UNBLOCK, &release, nullptr);
  }
  BlockedForWait(const BlockedForWait&) = delete;
  BlockedForWait& operator=(const BlockedForWait&) = delete;

 private:
  sigset_t counted_;
};

// A signal sent to the waiting green thread (or held for it) is sent
// again, the same way, to its OS thread while blocked there, and dequeued:
// the siginfo is the kernel's own.
int take_sent_signal(const PendingGreenSignal& sent, siginfo_t* info) {
  sigset_t one, previous;
  sigemptyset(&one);
  sigaddset(&one, sent.sig);
  GREENHUB_REAL(pthread_sigmask)(SIG_BLOCK, &one, &previous);
  pthread_t self = GREENHUB_REAL(pthread_self)();
  if (sent.has_value) {
    GREENHUB_REAL(pthread_sigqueue)(self, sent.sig, sent.value);
  } else {
    GREENHUB_REAL(pthread_kill)(self, sent.sig);
  }
  const timespec zero{0, 0};
  const int sig = GREENHUB_REAL(sigtimedwait)(&one, info, &zero);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
  return sig;
}

int green_sigtimedwait(Hub& hub, const sigset_t* set, siginfo_t* info, const AbsDeadline& deadline) {
  cancellation_point();
  ErrnoKeeper keep;
  // The kernel lets the caller take the signals of its set that it does
  // not block. A green thread with a mask of its own gets them only if
  // main() blocks them (a process-directed signal goes to main() first,
  // as natively); a thread that owns its OS thread's mask blocks them
  // there for the wait.
  GreenThread* self = thread_with_own_mask();
  std::optional<BlockedForWait> blocked;
  if (self == nullptr) blocked.emplace(*set);
  PendingSignalWatch watch(*set);
  const timespec zero{0, 0};
  if (watch.fd() < 0) {
    // No watch (descriptors exhausted): the wait blocks the hub, in libc.
    int sig = GREENHUB_REAL(sigtimedwait)(set, info, &zero);
    if (sig > 0 || errno != EAGAIN) return sig > 0 ? keep.success(sig) : sig;
    if (deadline.infinite) return GREENHUB_REAL(sigtimedwait)(set, info, nullptr);
    timespec left = ns_to_timespec(std::max<int64_t>(deadline.remaining_ns(), 0));
    return GREENHUB_REAL(sigtimedwait)(set, info, &left);
  }
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  const SignalScope scope{nullptr, set};
  for (;;) {
    PendingGreenSignal held;
    if (self != nullptr && take_held_signal(*self, *set, &held)) {
      return keep.success(take_sent_signal(held, info));
    }
    int sig = GREENHUB_REAL(sigtimedwait)(set, info, &zero);
    if (sig > 0) return keep.success(sig);
    if (errno != EAGAIN) return -1;  // EFAULT: the kernel's answer
    if (deadline.expired()) return -1;  // EAGAIN
    FdWaitSet wait(1);
    wait.add(watch.fd(), EPOLLIN);
    TakenSignal taken;
    g->set_waiting_on("sigwait");
    FdWaitSet::Result r = wait.park(hub, deadline, FdWaitSet::Signals::kAnyHandler, scope, &taken);
    g->set_waiting_on(previous);
    if (r == FdWaitSet::Result::kSignalTaken) return keep.success(take_sent_signal(taken, info));
    if (r == FdWaitSet::Result::kSignaled) {
      errno = EINTR;
      return -1;
    }
    cancellation_point();
  }
}

// The program's signal set as the kernel reads it (its first 64 bits);
// false if it cannot be read (the kernel's EFAULT).
bool read_set(const sigset_t* set, sigset_t* out) {
  sigemptyset(out);
  return copy_from_program(out, set, sizeof(unsigned long));
}

int green_sigsuspend(Hub& hub, const sigset_t* mask) {
  cancellation_point();
  PendingSignalWatch watch(signals_unblocked_by(mask));
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  const SignalScope scope{mask, nullptr};
  for (;;) {
    if (deliver_pending_with_mask(mask)) break;
    FdWaitSet wait(1);
    if (watch.fd() >= 0) wait.add(watch.fd(), EPOLLIN);
    g->set_waiting_on("sigsuspend");
    FdWaitSet::Result r = wait.park(hub, AbsDeadline::never(), FdWaitSet::Signals::kAnyHandler, scope);
    g->set_waiting_on(previous);
    if (r == FdWaitSet::Result::kSignaled) break;
    cancellation_point();
  }
  errno = EINTR;
  return -1;
}

}  // namespace

extern "C" {

int sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
  Hub* hub = green_hub();
  sigset_t s;
  timespec t{};
  if (hub == nullptr || !read_set(set, &s) ||
      (timeout != nullptr && (!copy_from_program(&t, timeout, sizeof t) || t.tv_sec < 0 ||
                              !valid_timespec(t) || (t.tv_sec == 0 && t.tv_nsec == 0)))) {
    return GREENHUB_REAL(sigtimedwait)(set, info, timeout);
  }
  AbsDeadline deadline = timeout == nullptr ? AbsDeadline::never() : AbsDeadline::after_ns(timespec_to_ns(t));
  return green_sigtimedwait(*hub, &s, info, deadline);
}

int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
  Hub* hub = green_hub();
  sigset_t s;
  if (hub == nullptr || !read_set(set, &s)) return GREENHUB_REAL(sigwaitinfo)(set, info);
  return green_sigtimedwait(*hub, &s, info, AbsDeadline::never());
}

// As glibc: retried on EINTR; the error number is returned.
int sigwait(const sigset_t* set, int* sig) {
  Hub* hub = green_hub();
  sigset_t s;
  if (hub == nullptr || !read_set(set, &s)) return GREENHUB_REAL(sigwait)(set, sig);
  int r;
  do {
    r = green_sigtimedwait(*hub, &s, nullptr, AbsDeadline::never());
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno;
  *sig = r;
  return 0;
}

int sigsuspend(const sigset_t* mask) {
  Hub* hub = green_hub();
  sigset_t m;
  if (hub == nullptr || !read_set(mask, &m)) return GREENHUB_REAL(sigsuspend)(mask);
  return green_sigsuspend(*hub, &m);
}

int __sigsuspend(const sigset_t* mask) { return sigsuspend(mask); }

}  // extern "C"
