#include "signal_mask.hpp"

#include <pthread.h>

#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {
namespace {

sigset_t startup_mask;

// Resolved before main(): these functions run in children of _Fork and
// vfork, where dlsym (which takes locks) is not safe.
int (*real_sigmask)(int, const sigset_t*, sigset_t*) = nullptr;

// Before main(), on the main thread: its mask is the one the program
// inherited, as every thread it creates natively starts with.
__attribute__((constructor(102))) void capture_startup_mask() {
  real_sigmask = resolve_real<int(int, const sigset_t*, sigset_t*)>("pthread_sigmask");
  real_sigmask(SIG_BLOCK, nullptr, &startup_mask);
}

int (*sigmask_function())(int, const sigset_t*, sigset_t*) {
  if (real_sigmask == nullptr) capture_startup_mask();
  return real_sigmask;
}

}  // namespace

bool runtime_blocks_signal(int sig) {
  if (!on_runtime_hub_thread() || sig <= 0 || sig >= NSIG) return false;
  sigset_t runtime;
  hub_thread_blocked_signals(&runtime);
  return sigismember(&runtime, sig) == 1 && sigismember(&startup_mask, sig) != 1;
}

void program_signal_mask(sigset_t* mask) {
  sigmask_function()(SIG_BLOCK, nullptr, mask);
  if (!on_runtime_hub_thread()) return;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (runtime_blocks_signal(sig)) sigdelset(mask, sig);
  }
}

bool enter_program_signal_mask(sigset_t* previous) {
  if (!on_runtime_hub_thread()) return false;
  sigset_t program;
  program_signal_mask(&program);
  sigmask_function()(SIG_SETMASK, &program, previous);
  return true;
}

void set_signal_mask(const sigset_t* mask) { sigmask_function()(SIG_SETMASK, mask, nullptr); }

}  // namespace greenhub::preload
