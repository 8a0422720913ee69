// sigaction, __sigaction, signal, bsd_signal, ssignal, sysv_signal,
// __sysv_signal, sigset, siginterrupt: see signal_handlers.hpp.
#include "signal_handlers.hpp"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "greenhub/spin_lock.hpp"
#include "real.hpp"
#include "signal_interrupt.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

// The program's handler for one signal (a seqlock: `sequence` is odd while
// a writer updates the record).
struct ProgramHandler {
  std::atomic<uint32_t> sequence{0};
  std::atomic<uintptr_t> handler{0};  // sa_handler or sa_sigaction
  std::atomic<int> flags{0};          // the program's sa_flags
};

ProgramHandler program_handlers[NSIG];
SpinLock writers_lock;

// libc's functions the trampoline may need, resolved before any signal can
// reach it (dlsym is not async-signal-safe).
using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using SigmaskFn = int (*)(int, const sigset_t*, sigset_t*);
using RaiseFn = int (*)(int);
SigactionFn real_sigaction() {
  static SigactionFn fn = resolve_real<int(int, const struct sigaction*, struct sigaction*)>("sigaction");
  return fn;
}
SigmaskFn real_sigmask() {
  static SigmaskFn fn = resolve_real<int(int, const sigset_t*, sigset_t*)>("pthread_sigmask");
  return fn;
}
RaiseFn real_raise() {
  static RaiseFn fn = resolve_real<int(int)>("raise");
  return fn;
}
__attribute__((constructor(101))) void resolve_signal_functions() {
  real_sigaction();
  real_sigmask();
  real_raise();
}
// Signals for which siginterrupt(sig, 1) was called: signal() installs
// their handler without SA_RESTART (glibc's _sigintr).
std::atomic<uint64_t> interrupting_signals{0};

struct Snapshot {
  uintptr_t handler;
  int flags;
};

Snapshot read_handler(int sig) {
  ProgramHandler& h = program_handlers[sig];
  for (;;) {
    uint32_t before = h.sequence.load(std::memory_order_acquire);
    if (before & 1) {
      __builtin_ia32_pause();
      continue;
    }
    Snapshot s{h.handler.load(std::memory_order_relaxed), h.flags.load(std::memory_order_relaxed)};
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h.sequence.load(std::memory_order_relaxed) == before) return s;
  }
}

// Under writers_lock, with every signal blocked on this thread.
void write_handler(int sig, Snapshot s) {
  ProgramHandler& h = program_handlers[sig];
  uint32_t seq = h.sequence.load(std::memory_order_relaxed);
  h.sequence.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  h.handler.store(s.handler, std::memory_order_relaxed);
  h.flags.store(s.flags, std::memory_order_relaxed);
  h.sequence.store(seq + 2, std::memory_order_release);
}

bool is_synchronous_fault(int sig, const siginfo_t* info) {
  switch (sig) {
    case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
      return info != nullptr && info->si_code > 0;
    default:
      return false;
  }
}

void trampoline(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  Snapshot s = read_handler(sig);
  // A fault belongs to the code that runs: it interrupts no wait.
  if (!is_synchronous_fault(sig, info)) note_handler_run(sig, info, (s.flags & SA_RESTART) != 0);
  errno = saved_errno;
  if (s.handler == reinterpret_cast<uintptr_t>(SIG_IGN)) return;
  if (s.handler == reinterpret_cast<uintptr_t>(SIG_DFL)) {
    // The program reset the disposition while this delivery was on its
    // way: apply the default action once the handler returns.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction()(sig, &dfl, nullptr);
    real_raise()(sig);
    return;
  }
  if (s.flags & SA_SIGINFO) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(s.handler)(sig, info, context);
  } else {
    reinterpret_cast<void (*)(int)>(s.handler)(sig);
  }
}

const uintptr_t kTrampoline = reinterpret_cast<uintptr_t>(&trampoline);

uintptr_t handler_of(const struct sigaction& act) {
  return (act.sa_flags & SA_SIGINFO) ? reinterpret_cast<uintptr_t>(act.sa_sigaction)
                                     : reinterpret_cast<uintptr_t>(act.sa_handler);
}

bool is_handler(uintptr_t handler) {
  return handler != reinterpret_cast<uintptr_t>(SIG_DFL) &&
         handler != reinterpret_cast<uintptr_t>(SIG_IGN) &&
         handler != reinterpret_cast<uintptr_t>(SIG_ERR);
}

// What the kernel reports (`act`), as the program would see it without the
// trampoline, given the program's handler record `s`.
void show_program_action(struct sigaction* act, Snapshot s) {
  if (act == nullptr) return;
  const uintptr_t kernel_handler = handler_of(*act);
  if (kernel_handler == kTrampoline) {
    act->sa_flags = (act->sa_flags & ~SA_SIGINFO) | (s.flags & SA_SIGINFO);
    if (s.flags & SA_SIGINFO) {
      act->sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(s.handler);
    } else {
      act->sa_handler = reinterpret_cast<void (*)(int)>(s.handler);
    }
  } else if (kernel_handler == reinterpret_cast<uintptr_t>(SIG_DFL) && (act->sa_flags & SA_RESETHAND) &&
             is_handler(s.handler)) {
    // An SA_RESETHAND delivery reset the trampoline: the kernel kept the
    // flags it was installed with, SA_SIGINFO included.
    act->sa_flags = (act->sa_flags & ~SA_SIGINFO) | (s.flags & SA_SIGINFO);
  }
}

void show_program_handler(int sig, struct sigaction* act) {
  if (act != nullptr) show_program_action(act, read_handler(sig));
}

int install(int sig, const struct sigaction* act, struct sigaction* oldact) {
  if (act == nullptr || sig <= 0 || sig >= NSIG) {
    int rc = real_sigaction()(sig, act, oldact);
    if (rc == 0 && sig > 0 && sig < NSIG) show_program_handler(sig, oldact);
    return rc;
  }
  struct sigaction wanted = *act;
  const uintptr_t handler = handler_of(wanted);
  const bool wraps = is_handler(handler);
  if (wraps) {
    wanted.sa_sigaction = trampoline;
    wanted.sa_flags |= SA_SIGINFO;
  }
  sigset_t all, previous_mask;
  sigfillset(&all);
  real_sigmask()(SIG_SETMASK, &all, &previous_mask);
  int rc;
  int error = 0;
  {
    std::lock_guard<SpinLock> lock(writers_lock);
    const Snapshot previous = read_handler(sig);
    // Written before the kernel sees the trampoline, so that a delivery
    // right after the change finds the new handler. SIG_DFL and SIG_IGN
    // are recorded too, so that the record always tells what the program
    // last installed.
    write_handler(sig, Snapshot{handler, act->sa_flags});
    rc = real_sigaction()(sig, &wanted, oldact);
    if (rc != 0) {
      error = errno;
      write_handler(sig, previous);
    } else {
      show_program_action(oldact, previous);
    }
  }
  real_sigmask()(SIG_SETMASK, &previous_mask, nullptr);
  if (rc != 0) errno = error;
  return rc;
}

bool valid_for_signal(int sig, sighandler_t handler) {
  return handler != SIG_ERR && sig >= 1 && sig < NSIG;
}

}  // namespace

namespace greenhub::preload {

bool program_handles_signal(int sig, bool* restart) {
  if (sig <= 0 || sig >= NSIG) return false;
  struct sigaction current;
  if (real_sigaction()(sig, nullptr, &current) != 0) return false;
  if (handler_of(current) != kTrampoline) return false;
  Snapshot s = read_handler(sig);
  if (!is_handler(s.handler)) return false;
  if (restart != nullptr) *restart = (current.sa_flags & SA_RESTART) != 0;
  return true;
}

}  // namespace greenhub::preload

extern "C" {

int sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) noexcept {
  return install(sig, act, oldact);
}

int __sigaction(int sig, const struct sigaction* act, struct sigaction* oldact) {
  return install(sig, act, oldact);
}

// glibc's signal() has BSD semantics: the signal blocked while its handler
// runs, and SA_RESTART unless siginterrupt(sig, 1) said otherwise.
sighandler_t signal(int sig, sighandler_t handler) noexcept {
  if (!valid_for_signal(sig, handler)) {
    errno = EINVAL;
    return SIG_ERR;
  }
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  const bool interrupting = (interrupting_signals.load(std::memory_order_relaxed) >> sig) & 1;
  act.sa_flags = interrupting ? 0 : SA_RESTART;
  if (install(sig, &act, &old) < 0) return SIG_ERR;
  return old.sa_handler;
}

sighandler_t bsd_signal(int sig, sighandler_t handler) noexcept { return signal(sig, handler); }

sighandler_t ssignal(int sig, sighandler_t handler) noexcept { return signal(sig, handler); }

// System V semantics: the handler is reset on delivery and the signal is
// not blocked while it runs.
sighandler_t __sysv_signal(int sig, sighandler_t handler) noexcept {
  if (!valid_for_signal(sig, handler)) {
    errno = EINVAL;
    return SIG_ERR;
  }
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  act.sa_flags = (SA_RESETHAND | SA_NODEFER | SA_INTERRUPT) & ~SA_RESTART;
  if (install(sig, &act, &old) < 0) return SIG_ERR;
  return old.sa_handler;
}

sighandler_t sysv_signal(int sig, sighandler_t handler) noexcept { return __sysv_signal(sig, handler); }

int siginterrupt(int sig, int interrupt) noexcept {
  struct sigaction act;
  if (install(sig, nullptr, &act) < 0) return -1;
  if (interrupt) {
    interrupting_signals.fetch_or(uint64_t{1} << sig, std::memory_order_relaxed);
    act.sa_flags &= ~SA_RESTART;
  } else {
    interrupting_signals.fetch_and(~(uint64_t{1} << sig), std::memory_order_relaxed);
    act.sa_flags |= SA_RESTART;
  }
  if (install(sig, &act, nullptr) < 0) return -1;
  return 0;
}

sighandler_t sigset(int sig, sighandler_t disposition) noexcept {
  sigset_t one, previous;
  sigemptyset(&one);
  if (sigaddset(&one, sig) < 0) return SIG_ERR;
  struct sigaction old;
  if (disposition == SIG_HOLD) {
    if (real_sigmask()(SIG_BLOCK, &one, &previous) < 0) return SIG_ERR;
    if (sigismember(&previous, sig)) return SIG_HOLD;
    if (install(sig, nullptr, &old) < 0) return SIG_ERR;
    return old.sa_handler;
  }
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_handler = disposition;
  sigemptyset(&act.sa_mask);
  act.sa_flags = 0;
  if (install(sig, &act, &old) < 0) return SIG_ERR;
  if (real_sigmask()(SIG_UNBLOCK, &one, &previous) < 0) return SIG_ERR;
  return sigismember(&previous, sig) ? SIG_HOLD : old.sa_handler;
}

}  // extern "C"
