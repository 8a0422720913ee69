// fork (through pthread_atfork handlers), _Fork, vfork, __vfork: see
// process_fork.hpp.
#include "process_fork.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "green_thread.hpp"
#include "parking_lot.hpp"
#include "process_exit.hpp"
#include "process_wait.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"
#include "signal_mask.hpp"
#include "thread_keys.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

constexpr int kMaxHooks = 16;
void (*fork_child_hooks[kMaxHooks])();
std::atomic<int> fork_child_hook_count{0};

// Whether the prepare handler took the runtime's locks (the runtime was
// running). glibc runs the handlers of one fork under its atfork lock.
bool locked_for_fork = false;

// In a vfork child: the write end of the pipe whose end-of-file tells the
// parent the child has exec'ed or exited. A grandchild must not hold it.
int vfork_exec_notice_fd = -1;

void run_fork_child_hooks() {
  const int n = fork_child_hook_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) fork_child_hooks[i]();
}

void prepare_fork() {
  locked_for_fork = initialized();
  if (locked_for_fork) Hub::lock_for_fork();
}

void after_fork_in_parent() {
  if (locked_for_fork) Hub::unlock_after_fork();
  locked_for_fork = false;
}

// The signal mask of the child's only thread: the program's (the forking
// thread may have been a runtime hub thread).
void take_program_signal_mask() {
  sigset_t previous;
  enter_program_signal_mask(&previous);
}

void after_fork_in_child() {
  if (vfork_exec_notice_fd >= 0) {
    close_raw(vfork_exec_notice_fd);
    vfork_exec_notice_fd = -1;
  }
  if (!locked_for_fork) return;
  locked_for_fork = false;
  Hub::unlock_after_fork();
  ParkingLot::reset_in_forked_child();
  reset_thread_keys_in_forked_child();
  Hub* hub = green_hub();
  if (hub == nullptr) {
    // Forked by a thread the preload did not make green (or from a child
    // whose runtime is off): no hub of the runtime exists in this child.
    GreenThread::forget_all_but(nullptr);
    take_program_signal_mask();
    disable_runtime_in_forked_child();
    run_fork_child_hooks();
    return;
  }
  hub->reset_in_forked_child();
  GreenThread* survivor = GreenThread::current();
  GreenThread::forget_all_but(survivor);
  take_program_signal_mask();
  restart_hubs_in_forked_child(hub);
  reset_signal_interrupts_in_forked_child();
  if (survivor != nullptr) {
    // main()'s context does not exist here: this green thread is the
    // process's only thread.
    mark_main_context_gone();
    set_signal_receiver(*hub, survivor);
    claim_os_signal_mask(*survivor);
  }
  run_fork_child_hooks();
}

// Registered first thing, on the main thread, before main() can register
// handlers of its own.
__attribute__((constructor(102))) void register_fork_handlers() {
  pthread_atfork(prepare_fork, after_fork_in_parent, after_fork_in_child);
}

// The child of _Fork or vfork may only call async-signal-safe functions:
// the runtime stays off there, and its mask is the program's.
void enter_async_signal_safe_child() {
  if (!initialized()) return;
  take_program_signal_mask();
  disable_runtime_in_forked_child();
}

long raw_pipe_cloexec(int fds[2]) {
  return raw_syscall6(SYS_pipe2, reinterpret_cast<long>(fds), O_CLOEXEC, 0, 0, 0, 0);
}

// The parent's side of vfork: waits until the child has exec'ed (the
// notice pipe's write end, close-on-exec, is closed) or exited (its pidfd
// is readable; a grandchild may have inherited the pipe).
void wait_for_exec_or_exit(pid_t child, int notice_fd) {
  int fds[2] = {notice_fd, open_pidfd(child)};
  const int count = fds[1] >= 0 ? 2 : 1;
  if (Hub* hub = green_hub()) {
    wait_until_any_readable(*hub, fds, count);
  } else {
    pollfd pfds[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    while (raw_syscall6(SYS_poll, reinterpret_cast<long>(pfds), count, -1, 0, 0, 0) == -EINTR) {
    }
  }
  if (fds[1] >= 0) close_raw(fds[1]);
}

pid_t green_vfork() {
  int notice[2] = {-1, -1};
  const bool noticed = raw_pipe_cloexec(notice) == 0;
  pid_t pid = GREENHUB_REAL(fork)();
  if (pid == 0) {
    if (noticed) {
      close_raw(notice[0]);
      vfork_exec_notice_fd = notice[1];
    }
    return 0;
  }
  const int saved_errno = errno;
  if (noticed) {
    close_raw(notice[1]);
    if (pid > 0) wait_for_exec_or_exit(pid, notice[0]);
    close_raw(notice[0]);
  }
  errno = saved_errno;
  return pid;
}

}  // namespace

namespace greenhub::preload {

void at_fork_child(void (*hook)()) {
  int slot = fork_child_hook_count.load(std::memory_order_relaxed);
  if (slot >= kMaxHooks) {
    std::fprintf(stderr, "greenhub: too many fork hooks\n");
    std::abort();
  }
  fork_child_hooks[slot] = hook;
  fork_child_hook_count.store(slot + 1, std::memory_order_release);
}

}  // namespace greenhub::preload

extern "C" {

pid_t _Fork(void) noexcept {
  pid_t pid = GREENHUB_REAL(_Fork)();
  if (pid == 0) enter_async_signal_safe_child();
  return pid;
}

pid_t vfork(void) noexcept { return green_vfork(); }

pid_t __vfork(void) { return green_vfork(); }

}  // extern "C"
