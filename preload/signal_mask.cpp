// The program's signal mask: see signal_mask.hpp.
#include "signal_mask.hpp"

#include <errno.h>
#include <pthread.h>

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

// On a runtime hub thread: the program's mask (plain data, initial-exec TLS).
constinit thread_local sigset_t program_mask_on_hub{};

// The kernel's part of a signal set (its first 64 bits).
constexpr size_t kKernelSetBytes = sizeof(unsigned long);

// glibc never lets a program block its internal signals (SIGCANCEL,
// SIGSETXID), nor can anyone block SIGKILL and SIGSTOP.
void drop_unblockable(sigset_t* set) {
  for (int sig : {SIGKILL, SIGSTOP, SIGRTMIN - 2, SIGRTMIN - 1}) sigdelset(set, sig);
}

// Installs `program` on this hub thread: the OS thread blocks it plus the
// runtime's signals; pending signals the program no longer blocks are
// delivered now.
void install_on_hub(const sigset_t& program) {
  program_mask_on_hub = program;
  sigset_t os;
  hub_thread_blocked_signals(&os);
  sigorset(&os, &os, &program);
  sigmask_function()(SIG_SETMASK, &os, nullptr);
  deliver_pending_with_mask(&program);
}

// pthread_sigmask on a runtime hub thread; 0 or an error number.
int change_mask_on_hub(int how, const sigset_t* set, sigset_t* old) {
  const sigset_t before = program_mask_on_hub;
  sigset_t next = before;
  if (set != nullptr) {
    sigset_t change;
    sigemptyset(&change);
    if (!copy_from_program(&change, set, kKernelSetBytes)) return EFAULT;
    switch (how) {
      case SIG_BLOCK: sigorset(&next, &before, &change); break;
      case SIG_UNBLOCK:
        for (int sig = 1; sig < NSIG; ++sig) {
          if (sigismember(&change, sig) == 1) sigdelset(&next, sig);
        }
        break;
      case SIG_SETMASK: next = change; break;
      default: return EINVAL;
    }
    drop_unblockable(&next);
  }
  if (old != nullptr && !copy_to_program(old, &before, kKernelSetBytes)) return EFAULT;
  if (set != nullptr) install_on_hub(next);
  return 0;
}

}  // namespace

bool runtime_blocks_signal(int sig) {
  if (!on_runtime_hub_thread() || sig <= 0 || sig >= NSIG) return false;
  sigset_t runtime;
  hub_thread_blocked_signals(&runtime);
  return sigismember(&runtime, sig) == 1 && sigismember(&program_mask_on_hub, sig) != 1;
}

void program_signal_mask(sigset_t* mask) {
  if (on_runtime_hub_thread()) {
    *mask = program_mask_on_hub;
    return;
  }
  sigmask_function()(SIG_BLOCK, nullptr, mask);
}

bool enter_program_signal_mask(sigset_t* previous) {
  if (!on_runtime_hub_thread()) return false;
  sigset_t program;
  program_signal_mask(&program);
  sigmask_function()(SIG_SETMASK, &program, previous);
  return true;
}

void set_signal_mask(const sigset_t* mask) { sigmask_function()(SIG_SETMASK, mask, nullptr); }

void start_hub_thread_signal_mask(const sigset_t& inherited) {
  program_mask_on_hub = inherited;
  drop_unblockable(&program_mask_on_hub);
  sigset_t os;
  hub_thread_blocked_signals(&os);
  sigorset(&os, &os, &program_mask_on_hub);
  sigmask_function()(SIG_SETMASK, &os, nullptr);
}

}  // namespace greenhub::preload

extern "C" {

int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  using namespace greenhub::preload;
  if (!on_runtime_hub_thread()) return sigmask_function()(how, set, old);
  return change_mask_on_hub(how, set, old);
}

int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  using namespace greenhub::preload;
  if (!on_runtime_hub_thread()) {
    static auto real = resolve_real<int(int, const sigset_t*, sigset_t*)>("sigprocmask");
    return real(how, set, old);
  }
  const int rc = change_mask_on_hub(how, set, old);
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

}  // extern "C"
