// The program's signal mask: see signal_mask.hpp.
#include "signal_mask.hpp"

#include <errno.h>
#include <pthread.h>

#include <algorithm>

#include "green_thread.hpp"
#include "program_memory.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"

namespace greenhub::preload {
namespace {

// Resolved before main(): these functions run in children of _Fork and
// vfork, where dlsym (which takes locks) is not safe.
int (*real_sigmask)(int, const sigset_t*, sigset_t*) = nullptr;

__attribute__((constructor(102))) void resolve_real_sigmask() {
  real_sigmask = resolve_real<int(int, const sigset_t*, sigset_t*)>("pthread_sigmask");
}

int (*sigmask_function())(int, const sigset_t*, sigset_t*) {
  if (real_sigmask == nullptr) resolve_real_sigmask();
  return real_sigmask;
}

// The kernel's part of a signal set (its first 64 bits).
constexpr size_t kKernelSetBytes = sizeof(unsigned long);

// The OS thread's mask as its owner (main(), a real thread) last set it
// through pthread_sigmask/sigprocmask, so that pthread_create can hand it
// to a new green thread without a system call. Changes the preload makes
// itself either undo themselves before they return or invalidate it.
struct OsMaskCache {
  bool valid;
  sigset_t mask;
};
constinit thread_local OsMaskCache os_mask_cache{};

void read_os_mask(sigset_t* mask) {
  if (!os_mask_cache.valid) {
    sigmask_function()(SIG_BLOCK, nullptr, &os_mask_cache.mask);
    os_mask_cache.valid = true;
  }
  *mask = os_mask_cache.mask;
}

// The mask `how` and `set` make of `before` (what the kernel computes).
bool apply_change(int how, const sigset_t& before, const sigset_t& change, sigset_t* next);

// glibc never lets a program block its internal signals (SIGCANCEL,
// SIGSETXID), nor can anyone block SIGKILL and SIGSTOP.
void drop_unblockable(sigset_t* set) {
  for (int sig : {SIGKILL, SIGSTOP, SIGRTMIN - 2, SIGRTMIN - 1}) sigdelset(set, sig);
}

bool apply_change(int how, const sigset_t& before, const sigset_t& change, sigset_t* next) {
  *next = before;
  switch (how) {
    case SIG_BLOCK: sigorset(next, &before, &change); break;
    case SIG_UNBLOCK:
      for (int sig = 1; sig < NSIG; ++sig) {
        if (sigismember(&change, sig) == 1) sigdelset(next, sig);
      }
      break;
    case SIG_SETMASK: *next = change; break;
    default: return false;
  }
  drop_unblockable(next);
  return true;
}

// pthread_sigmask for a green thread with its own mask; 0 or an error
// number, as the kernel's checks give them.
int change_own_mask(GreenThread& t, int how, const sigset_t* set, sigset_t* old) {
  const sigset_t before = t.signal_mask;
  sigset_t next = before;
  if (set != nullptr) {
    sigset_t change;
    sigemptyset(&change);
    if (!copy_from_program(&change, set, kKernelSetBytes)) return EFAULT;
    if (!apply_change(how, before, change, &next)) return EINVAL;
  }
  if (old != nullptr && !copy_to_program(old, &before, kKernelSetBytes)) return EFAULT;
  if (set != nullptr) {
    t.signal_mask = next;
    // What it unblocked and is pending for it is delivered now.
    if (how != SIG_BLOCK) deliver_pending_with_mask(&t.signal_mask);
  }
  return 0;
}

bool is_standard(int sig) { return sig < SIGRTMIN; }

}  // namespace

GreenThread* thread_with_own_mask() {
  GreenThread* t = GreenThread::current();
  return t != nullptr && !t->owns_os_signal_mask ? t : nullptr;
}

bool runtime_blocks_signal(int sig) {
  if (!on_runtime_hub_thread() || sig <= 0 || sig >= NSIG) return false;
  sigset_t runtime;
  hub_thread_blocked_signals(&runtime);
  return sigismember(&runtime, sig) == 1;
}

void program_signal_mask(sigset_t* mask) {
  if (GreenThread* t = thread_with_own_mask()) {
    *mask = t->signal_mask;
    return;
  }
  if (!on_runtime_hub_thread()) {
    read_os_mask(mask);
    return;
  }
  sigmask_function()(SIG_BLOCK, nullptr, mask);
  sigset_t runtime;
  hub_thread_blocked_signals(&runtime);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&runtime, sig) == 1) sigdelset(mask, sig);
  }
}

void signal_mask_of(const GreenThread& t, sigset_t* mask) {
  if (t.owns_os_signal_mask) {
    sigmask_function()(SIG_BLOCK, nullptr, mask);
  } else {
    *mask = t.signal_mask;
  }
}

bool enter_program_signal_mask(sigset_t* previous) {
  if (thread_with_own_mask() == nullptr && !on_runtime_hub_thread()) return false;
  sigset_t program;
  program_signal_mask(&program);
  sigmask_function()(SIG_SETMASK, &program, previous);
  os_mask_cache.valid = false;
  return true;
}

void set_signal_mask(const sigset_t* mask) {
  sigmask_function()(SIG_SETMASK, mask, nullptr);
  os_mask_cache.valid = false;
}

void forget_os_signal_mask() { os_mask_cache.valid = false; }

// pthread_sigmask for the owner of the OS thread's mask: libc's, and the
// cache follows.
int change_os_mask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t before;
  sigemptyset(&before);
  const int rc = sigmask_function()(how, set, &before);
  if (rc != 0) {
    os_mask_cache.valid = false;
    return rc;
  }
  if (old != nullptr && !copy_to_program(old, &before, kKernelSetBytes)) return EFAULT;
  sigset_t change, next;
  sigemptyset(&change);
  if (set != nullptr && copy_from_program(&change, set, kKernelSetBytes) &&
      apply_change(how, before, change, &next)) {
    os_mask_cache.mask = next;
    os_mask_cache.valid = true;
  } else {
    os_mask_cache.mask = before;
    os_mask_cache.valid = set == nullptr;
  }
  return 0;
}

void start_hub_thread_signal_mask() {
  sigset_t runtime;
  hub_thread_blocked_signals(&runtime);
  sigmask_function()(SIG_SETMASK, &runtime, nullptr);
}

void inherit_signal_mask(GreenThread& child) { program_signal_mask(&child.signal_mask); }

void claim_os_signal_mask(GreenThread& t) {
  t.owns_os_signal_mask = true;
  t.pending_signals.clear();
}

void hold_signal(GreenThread& t, int sig, const sigval* value) {
  if (is_standard(sig)) {
    for (const PendingGreenSignal& p : t.pending_signals) {
      if (p.sig == sig) return;
    }
  }
  PendingGreenSignal p;
  p.sig = sig;
  p.has_value = value != nullptr;
  if (value != nullptr) p.value = *value;
  t.pending_signals.push_back(p);
}

bool take_held_signal(GreenThread& t, const sigset_t& set, PendingGreenSignal* out) {
  // The lowest signal number first, as the kernel dequeues.
  auto best = t.pending_signals.end();
  for (auto it = t.pending_signals.begin(); it != t.pending_signals.end(); ++it) {
    if (sigismember(&set, it->sig) == 1 && (best == t.pending_signals.end() || it->sig < best->sig)) best = it;
  }
  if (best == t.pending_signals.end()) return false;
  *out = *best;
  t.pending_signals.erase(best);
  return true;
}

bool holds_signal_unblocked_by(const sigset_t& mask) {
  GreenThread* t = thread_with_own_mask();
  if (t == nullptr) return false;
  for (const PendingGreenSignal& p : t->pending_signals) {
    if (sigismember(&mask, p.sig) != 1) return true;
  }
  return false;
}

}  // namespace greenhub::preload

extern "C" {

int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  using namespace greenhub::preload;
  if (GreenThread* t = thread_with_own_mask()) return change_own_mask(*t, how, set, old);
  return change_os_mask(how, set, old);
}

int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  using namespace greenhub::preload;
  GreenThread* t = thread_with_own_mask();
  const int rc = t != nullptr ? change_own_mask(*t, how, set, old) : change_os_mask(how, set, old);
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

// The signals pending for the caller: for a green thread with its own
// mask, those held for it and those pending for its OS thread or the
// process that it blocks.
int sigpending(sigset_t* set) {
  using namespace greenhub::preload;
  static auto real = resolve_real<int(sigset_t*)>("sigpending");
  GreenThread* t = thread_with_own_mask();
  if (t == nullptr) return real(set);
  sigset_t kernel;
  sigemptyset(&kernel);
  if (real(&kernel) != 0) return -1;
  sigset_t result;
  sigemptyset(&result);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&kernel, sig) == 1 && sigismember(&t->signal_mask, sig) == 1) sigaddset(&result, sig);
  }
  for (const PendingGreenSignal& p : t->pending_signals) sigaddset(&result, p.sig);
  if (!copy_to_program(set, &result, kKernelSetBytes)) {
    errno = EFAULT;
    return -1;
  }
  return 0;
}

}  // extern "C"
