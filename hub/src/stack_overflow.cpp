#include "stack_overflow.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <atomic>

#include "greenhub/runtime.hpp"
#include "stack_pool.hpp"

namespace greenhub::detail {
namespace {

constexpr size_t kAltStackSize = 64 * 1024;
struct sigaction previous_action;

void report_overflow(size_t stack_size) {
  char buf[256];
  Hub* hub = Hub::current_if_exists();
  GreenletBase* g = hub != nullptr ? hub->current_greenlet() : nullptr;
  int n;
  if (g != nullptr) {
    n = std::snprintf(buf, sizeof buf,
                      "greenhub: stack overflow in greenlet #%llu \"%s\" (stack size %zu KiB); "
                      "aborting\n",
                      static_cast<unsigned long long>(g->id()), g->name().c_str(),
                      stack_size / 1024);
  } else {
    n = std::snprintf(buf, sizeof buf,
                      "greenhub: stack overflow in a greenlet (stack size %zu KiB); aborting\n",
                      stack_size / 1024);
  }
  if (n > 0) {
    ssize_t ignored = write(STDERR_FILENO, buf, static_cast<size_t>(n));
    (void)ignored;
  }
  signal(SIGABRT, SIG_DFL);
  abort();
}

void on_segv(int sig, siginfo_t* info, void* ucontext) {
  size_t stack_size = 0;
  if (info != nullptr && StackPool::instance().in_guard(info->si_addr, &stack_size)) {
    report_overflow(stack_size);
  }
  // Not ours: hand over to whoever was there before.
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction != nullptr) {
      previous_action.sa_sigaction(sig, info, ucontext);
      return;
    }
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction re-runs.
  signal(SIGSEGV, SIG_DFL);
  // A SIGSEGV that was sent (kill, tgkill, sigqueue) has no instruction to
  // re-run: send it again, now to the default action.
  if (info == nullptr || info->si_code <= 0) {
    syscall(SYS_tgkill, getpid(), static_cast<pid_t>(syscall(SYS_gettid)), SIGSEGV);
  }
}

}  // namespace

void* install_overflow_detection() {
  static std::atomic<bool> installed{false};
  if (!installed.exchange(true)) {
    struct sigaction action {};
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_action);
  }
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return nullptr;
  void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  stack_t alt{};
  alt.ss_sp = mem;
  alt.ss_size = kAltStackSize;
  if (sigaltstack(&alt, nullptr) != 0) {
    munmap(mem, kAltStackSize);
    return nullptr;
  }
  return mem;
}

void release_alt_stack(void* alt_stack) {
  if (alt_stack == nullptr) return;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && current.ss_sp == alt_stack) {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
  }
  munmap(alt_stack, kAltStackSize);
}

}  // namespace greenhub::detail
