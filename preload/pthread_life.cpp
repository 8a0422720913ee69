// The pthread lifecycle, green: create, join (all variants), detach, exit,
// self, equal, cancellation, cleanup buffers, names, attributes, kill,
// yield, and the C11 thrd_* names (glibc's thrd_* call its internal
// pthread functions directly, so they are interposed here too).
//
// A call about a handle that is not a green thread (the main thread, a real
// thread) goes to libc unchanged.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <threads.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstring>

#include "deadline.hpp"
#include "green_thread.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"
#include "signal_mask.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

constexpr size_t kMinGreenStack = 16 * 1024;
constexpr size_t kMaxGreenStack = 64 * 1024 * 1024;

// The stack size asked for in attr, or 0 for "the default".
size_t requested_stack_size(const pthread_attr_t* attr) {
  if (attr == nullptr) return 0;
  size_t size = 0;
  if (pthread_attr_getstacksize(attr, &size) != 0) return 0;
  pthread_attr_t defaults;
  size_t default_size = 0;
  if (pthread_getattr_default_np(&defaults) == 0) {
    pthread_attr_getstacksize(&defaults, &default_size);
    pthread_attr_destroy(&defaults);
  }
  if (size == default_size) return 0;
  if (size < kMinGreenStack) return kMinGreenStack;
  if (size > kMaxGreenStack) return kMaxGreenStack;
  return size;
}

struct ProgramThreadStart {
  void* (*start)(void*);
  void* arg;
};

void* start_program_thread(void* raw) {
  ProgramThreadStart s = *static_cast<ProgramThreadStart*>(raw);
  delete static_cast<ProgramThreadStart*>(raw);
  mark_program_thread();
  return s.start(s.arg);
}

int join_green(const std::shared_ptr<GreenThread>& thread, void** result,
               const AbsDeadline* deadline, bool try_only) {
  return thread->join(result, deadline, try_only);
}

// glibc's timed joins retry their futex wait on every error but a timeout:
// an invalid clock or nanosecond field makes them wait until the thread
// ends. Same here.
int timed_join_green(const std::shared_ptr<GreenThread>& thread, void** result, clockid_t clock,
                     const struct timespec* abstime) {
  if (abstime == nullptr || !valid_timespec(*abstime) ||
      (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)) {
    return join_green(thread, result, nullptr, false);
  }
  AbsDeadline deadline = AbsDeadline::at(clock, *abstime);
  return join_green(thread, result, &deadline, false);
}

// A handle that is no green thread of ours: libc's if it looks like a real
// thread descriptor (glibc's TCB header points at itself at offset 16),
// else a green thread that is gone (ESRCH), instead of letting libc read a
// freed GreenThread as a descriptor.
bool looks_like_real_thread(pthread_t handle) {
  const auto* words = reinterpret_cast<const uintptr_t*>(handle);
  return handle != 0 && words[2] == handle;
}

// glibc's two internal signals (SIGCANCEL, SIGSETXID): EINVAL from pthread_kill.
bool is_internal_signal(int sig) { return sig == 32 || sig == 33; }

// The calling OS thread's name (its comm), which a thread it creates
// inherits. PR_GET_NAME is a system call (about 1.5 us on this VM, half of
// a green pthread_create): the name is kept per OS thread and read again
// only after a rename anywhere in the process through pthread_setname_np
// or prctl(PR_SET_NAME) (a rename by a raw system call or by writing
// /proc/self/task/TID/comm is not seen).
std::atomic<uint32_t> os_thread_names_generation{1};

void os_thread_name(char (&out)[16]) {
  static thread_local uint32_t cached_generation = 0;
  static thread_local char cached[16];
  const uint32_t generation = os_thread_names_generation.load(std::memory_order_acquire);
  if (cached_generation != generation) {
    GREENHUB_REAL(prctl)(PR_GET_NAME, cached, 0, 0, 0);
    cached_generation = generation;
  }
  std::memcpy(out, cached, sizeof cached);
}

void os_thread_renamed() { os_thread_names_generation.fetch_add(1, std::memory_order_acq_rel); }

}  // namespace

extern "C" {

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  const bool green = initialized() && config().green_threads && green_hub() != nullptr &&
                     !Hub::creating_runtime_thread();
  if (!green) {
    if (initialized() && !config().green_threads && !Hub::creating_runtime_thread()) {
      auto* s = new ProgramThreadStart{start, arg};
      int rc = GREENHUB_REAL(pthread_create)(thread, attr, start_program_thread, s);
      if (rc != 0) delete s;
      return rc;
    }
    return GREENHUB_REAL(pthread_create)(thread, attr, start, arg);
  }
  int detach_state = PTHREAD_CREATE_JOINABLE;
  if (attr != nullptr && pthread_attr_getdetachstate(attr, &detach_state) != 0) return EINVAL;
  auto t = std::make_shared<GreenThread>(start, arg);
  size_t stack = requested_stack_size(attr);
  t->requested_stack_size = stack;
  if (stack == 0) stack = config().stack_size;
  if (stack != 0) t->set_stack_size(stack);
  if (attr != nullptr) pthread_attr_getguardsize(attr, &t->guard_size);
  // A new thread inherits its creator's name, as the kernel's comm is.
  if (GreenThread* self = GreenThread::current()) {
    std::memcpy(t->thread_name, self->thread_name, sizeof t->thread_name);
  } else {
    os_thread_name(t->thread_name);
  }
  inherit_signal_mask(*t);
  *thread = t->handle();
  GreenThread::register_thread(t, detach_state == PTHREAD_CREATE_DETACHED);
  t->start_on(hub_for_new_thread());
  return 0;
}

int pthread_join(pthread_t thread, void** result) {
  if (auto t = GreenThread::find(thread)) return join_green(t, result, nullptr, false);
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_join)(thread, result);
}

int pthread_tryjoin_np(pthread_t thread, void** result) {
  if (auto t = GreenThread::find(thread)) return join_green(t, result, nullptr, true);
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_tryjoin_np)(thread, result);
}

int pthread_timedjoin_np(pthread_t thread, void** result, const struct timespec* abstime) {
  if (auto t = GreenThread::find(thread)) return timed_join_green(t, result, CLOCK_REALTIME, abstime);
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_timedjoin_np)(thread, result, abstime);
}

int pthread_clockjoin_np(pthread_t thread, void** result, clockid_t clock,
                         const struct timespec* abstime) {
  if (auto t = GreenThread::find(thread)) return timed_join_green(t, result, clock, abstime);
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_clockjoin_np)(thread, result, clock, abstime);
}

int pthread_detach(pthread_t thread) {
  if (auto t = GreenThread::find(thread)) return t->detach();
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_detach)(thread);
}

void pthread_exit(void* result) {
  if (GreenThread* self = GreenThread::current()) self->exit(result);
  GREENHUB_REAL(pthread_exit)(result);
  __builtin_unreachable();
}

pthread_t pthread_self(void) {
  if (GreenThread* self = GreenThread::current()) return self->handle();
  return GREENHUB_REAL(pthread_self)();
}

int pthread_equal(pthread_t a, pthread_t b) noexcept { return a == b; }

// --- cancellation ----------------------------------------------------------

int pthread_cancel(pthread_t thread) {
  if (auto t = GreenThread::find(thread)) {
    t->cancel_pending.store(true, std::memory_order_release);
    Hub::interrupt(t.get());
    return 0;
  }
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_cancel)(thread);
}

void pthread_testcancel(void) {
  if (GreenThread* self = GreenThread::current()) {
    self->test_cancel();
    return;
  }
  GREENHUB_REAL(pthread_testcancel)();
}

int pthread_setcancelstate(int state, int* old) {
  if (GreenThread* self = GreenThread::current()) {
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
    if (old != nullptr) *old = self->cancel_state;
    self->cancel_state = state;
    return 0;
  }
  return GREENHUB_REAL(pthread_setcancelstate)(state, old);
}

int pthread_setcanceltype(int type, int* old) {
  if (GreenThread* self = GreenThread::current()) {
    if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS) return EINVAL;
    if (old != nullptr) *old = self->cancel_type;
    self->cancel_type = type;
    // Asynchronous cancellation acts, for a green thread, at the next
    // cancellation point, like deferred (documented in the README).
    return 0;
  }
  return GREENHUB_REAL(pthread_setcanceltype)(type, old);
}

void __pthread_register_cancel(__pthread_unwind_buf_t* buf) {
  if (GreenThread* self = GreenThread::current()) {
    buf->__pad[0] = self->cleanup_chain;  // priv.data.prev
    buf->__pad[1] = nullptr;              // priv.data.cleanup (old style)
    self->cleanup_chain = buf;
    return;
  }
  GREENHUB_REAL_TYPED(void(__pthread_unwind_buf_t*), "__pthread_register_cancel")(buf);
}

void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf) {
  if (GreenThread* self = GreenThread::current()) {
    self->cleanup_chain = buf->__pad[0];
    return;
  }
  GREENHUB_REAL_TYPED(void(__pthread_unwind_buf_t*), "__pthread_unregister_cancel")(buf);
}

void __pthread_unwind_next(__pthread_unwind_buf_t* buf) {
  if (GreenThread* self = GreenThread::current()) self->unwind_next(buf);
  GREENHUB_REAL_TYPED(void(__pthread_unwind_buf_t*), "__pthread_unwind_next")(buf);
  __builtin_unreachable();
}

// --- names, attributes, signals --------------------------------------------

int pthread_setname_np(pthread_t thread, const char* name) {
  if (auto t = GreenThread::find(thread)) {
    size_t len = std::strlen(name);
    if (len >= sizeof t->thread_name) return ERANGE;
    std::memcpy(t->thread_name, name, len + 1);
    t->set_name(name);  // the greenlet's name, for the trace and the tools
    return 0;
  }
  if (!looks_like_real_thread(thread)) return ESRCH;
  int rc = GREENHUB_REAL(pthread_setname_np)(thread, name);
  if (rc == 0) os_thread_renamed();
  return rc;
}

// Interposed only to see renames (os_thread_name); everything goes to libc.
int prctl(int option, ...) noexcept {
  va_list ap;
  va_start(ap, option);
  unsigned long arg2 = va_arg(ap, unsigned long);
  unsigned long arg3 = va_arg(ap, unsigned long);
  unsigned long arg4 = va_arg(ap, unsigned long);
  unsigned long arg5 = va_arg(ap, unsigned long);
  va_end(ap);
  int rc = GREENHUB_REAL(prctl)(option, arg2, arg3, arg4, arg5);
  if (rc == 0 && option == PR_SET_NAME) os_thread_renamed();
  return rc;
}

int pthread_getname_np(pthread_t thread, char* buf, size_t len) {
  if (auto t = GreenThread::find(thread)) {
    size_t need = std::strlen(t->thread_name) + 1;
    if (len < need) return ERANGE;
    std::memcpy(buf, t->thread_name, need);
    return 0;
  }
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_getname_np)(thread, buf, len);
}

int pthread_getattr_np(pthread_t thread, pthread_attr_t* attr) {
  if (auto t = GreenThread::find(thread)) {
    int rc = pthread_attr_init(attr);
    if (rc != 0) return rc;
    GreenThread* self = GreenThread::current();
    (void)self;
    if (t->stack_base() != nullptr) pthread_attr_setstack(attr, t->stack_base(), t->stack_size());
    pthread_attr_setguardsize(attr, t->guard_size);
    return 0;
  }
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_getattr_np)(thread, attr);
}

// Signals are per OS thread; see signal_interrupt.hpp for how a signal
// sent to a green thread is delivered (README: "What is not per green
// thread").
int pthread_kill(pthread_t thread, int sig) {
  if (auto t = GreenThread::find(thread)) {
    if (sig < 0 || sig >= NSIG || is_internal_signal(sig)) return EINVAL;
    if (sig == 0 || t->dead()) return 0;
    if (t.get() == GreenThread::current()) return raise_on_this_thread(sig);
    deliver_signal_to_green_thread(t.get(), sig);
    return 0;
  }
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_kill)(thread, sig);
}

int pthread_sigqueue(pthread_t thread, int sig, const union sigval value) noexcept {
  if (auto t = GreenThread::find(thread)) {
    if (sig < 0 || sig >= NSIG || is_internal_signal(sig)) return EINVAL;
    if (sig == 0 || t->dead()) return 0;
    if (t.get() == GreenThread::current()) return raise_on_this_thread(sig, &value);
    deliver_signal_to_green_thread(t.get(), sig, &value);
    return 0;
  }
  if (!looks_like_real_thread(thread)) return ESRCH;
  return GREENHUB_REAL(pthread_sigqueue)(thread, sig, value);
}

// raise() from a green thread is a signal to that green thread.
int raise(int sig) noexcept {
  if (GreenThread::current() == nullptr) return GREENHUB_REAL(raise)(sig);
  const int rc = raise_on_this_thread(sig);
  if (rc == 0) return 0;
  errno = rc;
  return -1;
}

int gsignal(int sig) noexcept { return raise(sig); }

// --- yielding ---------------------------------------------------------------

int sched_yield(void) noexcept {
  if (Hub* hub = green_hub()) {
    hub->yield();
    return 0;
  }
  return GREENHUB_REAL(sched_yield)();
}

// <pthread.h> redirects pthread_yield to sched_yield; binaries built
// before that still import the compat name.
int greenhub_pthread_yield(void) __asm__("pthread_yield");
int greenhub_pthread_yield(void) { return sched_yield(); }

void thrd_yield(void) { sched_yield(); }

// --- C11 threads -------------------------------------------------------------

namespace {
struct C11Start {
  thrd_start_t func;
  void* arg;
};
void* c11_trampoline(void* raw) {
  C11Start s = *static_cast<C11Start*>(raw);
  delete static_cast<C11Start*>(raw);
  return reinterpret_cast<void*>(static_cast<intptr_t>(s.func(s.arg)));
}
int thrd_result(int rc) {
  switch (rc) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    default: return thrd_error;
  }
}
}  // namespace

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* s = new C11Start{func, arg};
  int rc = pthread_create(reinterpret_cast<pthread_t*>(thr), nullptr, c11_trampoline, s);
  if (rc != 0) delete s;
  return rc == EAGAIN ? thrd_nomem : thrd_result(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* result = nullptr;
  int rc = pthread_join(static_cast<pthread_t>(thr), &result);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(result));
  return thrd_result(rc);
}

int thrd_detach(thrd_t thr) { return thrd_result(pthread_detach(static_cast<pthread_t>(thr))); }

thrd_t thrd_current(void) { return static_cast<thrd_t>(pthread_self()); }

int thrd_equal(thrd_t a, thrd_t b) { return a == b; }

void thrd_exit(int res) { pthread_exit(reinterpret_cast<void*>(static_cast<intptr_t>(res))); }

}  // extern "C"
