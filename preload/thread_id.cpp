// Thread ids: gettid(), syscall(SYS_gettid), tgkill and tkill per green
// thread.
//
// Why
//   Natively every thread has a kernel tid of its own and the main thread's
//   is the process id. Green threads share their hub's OS thread: the
//   kernel would give every green thread of a hub the same tid, and every
//   green thread of hub 0 the process id. Programs use the tid as a unique
//   key (CPython's threading.get_native_id, loggers, per-thread tables) and
//   gettid() == getpid() as "this is the main thread".
//
// How it works
//   A green thread's id is its owner id (green_thread.hpp), the id the
//   green mutexes already record as their owner: bit 30 set, so above
//   PID_MAX_LIMIT (2^22), an id no task of any process can have. The main
//   thread and real threads (GREENHUB_GREEN_THREADS=0, the runtime's own)
//   keep their kernel tid. tgkill and tkill, as glibc functions and as raw
//   syscall(2) numbers, deliver a signal to a green thread given its id the
//   way pthread_kill does (signal_interrupt.hpp); an id of a green thread
//   that has ended, or never was, gives ESRCH, as the kernel does for a tid
//   that no longer exists. Every other syscall(2) number goes to libc's
//   syscall() with the caller's six argument registers unchanged.
//
// Not virtualized (README, "What is not per green thread"): other kernel
// interfaces that take a tid (/proc/self/task/ID, sched_setaffinity,
// SO_PEERCRED...) answer a green thread's id with ESRCH or ENOENT, never by
// touching another thread.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdint>

#include "green_thread.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {
namespace {

pid_t this_thread_id() {
  if (initialized()) {
    if (GreenThread* t = GreenThread::current()) return static_cast<pid_t>(t->owner_id());
  }
  return static_cast<pid_t>(raw_gettid());
}

// tgkill/tkill to a green thread's id: 0 or -1 with errno, like the kernel.
long signal_green_id(long tid, int sig) {
  std::shared_ptr<GreenThread> t = GreenThread::find_by_owner_id(static_cast<uint32_t>(tid));
  if (t == nullptr || t->dead()) {
    errno = ESRCH;
    return -1;
  }
  if (sig < 0 || sig >= NSIG) {
    errno = EINVAL;
    return -1;
  }
  if (int rc = pthread_kill(t->handle(), sig); rc != 0) {
    errno = rc;
    return -1;
  }
  return 0;
}

}  // namespace
}  // namespace greenhub::preload

using namespace greenhub::preload;

extern "C" {

pid_t gettid(void) noexcept { return this_thread_id(); }

int tgkill(pid_t tgid, pid_t tid, int sig) noexcept {
  if (initialized() && GreenThread::is_owner_id(tid) && tgid == getpid()) {
    return static_cast<int>(signal_green_id(tid, sig));
  }
  return GREENHUB_REAL(tgkill)(tgid, tid, sig);
}

long syscall(long number, ...) noexcept {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& arg : a) arg = va_arg(ap, long);
  va_end(ap);
  if (initialized()) {
    switch (number) {
      case SYS_gettid:
        return this_thread_id();
      case SYS_tgkill:
        if (GreenThread::is_owner_id(a[1]) && a[0] == getpid()) {
          return signal_green_id(a[1], static_cast<int>(a[2]));
        }
        break;
      case SYS_tkill:
        if (GreenThread::is_owner_id(a[0])) return signal_green_id(a[0], static_cast<int>(a[1]));
        break;
      default:
        break;
    }
  }
  return GREENHUB_REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

}  // extern "C"
