// Sleeping, green: sleep, usleep, nanosleep, __nanosleep, clock_nanosleep,
// thrd_sleep, pause.
//
// A green caller parks on a hub timer (CLOCK_REALTIME absolute deadlines on
// a wall-clock timer that follows clock changes; CLOCK_MONOTONIC,
// CLOCK_BOOTTIME and CLOCK_TAI absolute deadlines converted to a monotonic
// delay when the sleep starts) and returns what the kernel would: 0, EINVAL
// for a bad request with the kernel's argument checks, and EINTR when a
// signal handler interrupts the sleep, with the remaining time for the
// relative sleeps (nanosleep's rem, sleep's unslept whole seconds). Which
// handler runs interrupt which sleep is signal_interrupt.hpp's business:
// a process-directed signal interrupts main()'s sleep, a signal sent with
// pthread_kill to a green thread interrupts that thread's sleep.
// clock_nanosleep returns its error number, thrd_sleep 0, -1 (interrupted)
// or -2 (error), as glibc. Each is a cancellation point. Other clocks
// (the CPU-time clocks, the alarm clocks) and every non-green caller go to
// libc.
#include <errno.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "deadline.hpp"
#include "green_thread.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

enum class SleepEnd { kElapsed, kInterrupted };

// Parks the calling green thread until the deadline or a signal handler
// interrupts it. Acts on cancellation.
SleepEnd green_sleep_until(Hub& hub, const AbsDeadline& deadline) {
  GreenThread* self = GreenThread::current();
  if (self != nullptr) self->test_cancel();
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  g->set_waiting_on("sleep");
  SleepEnd end = SleepEnd::kElapsed;
  for (;;) {
    if (deadline.expired()) break;
    WaitToken token = hub.prepare_park();
    WakeReason reason;
    bool interrupted;
    {
      InterruptibleWait wait(hub, token, InterruptibleWait::Kind::kSleep);
      reason = hub.park(token, deadline.to_hub());
      interrupted = wait.interrupted();
    }
    if (interrupted) {
      end = SleepEnd::kInterrupted;
      break;
    }
    if (reason == WakeReason::kTimedOut) break;
    if (self != nullptr) {
      g->set_waiting_on(previous);
      self->test_cancel();
      g->set_waiting_on("sleep");
    }
  }
  g->set_waiting_on(previous);
  return end;
}

// Beyond this a relative sleep is, for any process, forever (the kernel
// clamps it the same way); it also keeps the nanosecond arithmetic exact.
constexpr time_t kForeverSeconds = 1000000000;  // ~31 years

bool supported_sleep_clock(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME ||
         clock == CLOCK_TAI;
}

// A relative sleep of `request`, with the time left when interrupted.
struct RelativeSleep {
  timespec request;
  int64_t started_ns = clock_now_ns(CLOCK_MONOTONIC);

  AbsDeadline deadline() const {
    if (request.tv_sec >= kForeverSeconds) return AbsDeadline::never();
    return AbsDeadline{false, CLOCK_MONOTONIC, started_ns + timespec_to_ns(request)};
  }
  timespec remaining() const {
    const int64_t slept = clock_now_ns(CLOCK_MONOTONIC) - started_ns;
    timespec left = request;
    left.tv_sec -= static_cast<time_t>(slept / 1000000000);
    left.tv_nsec -= static_cast<long>(slept % 1000000000);
    if (left.tv_nsec < 0) {
      left.tv_nsec += 1000000000;
      left.tv_sec -= 1;
    }
    if (left.tv_sec < 0) left = timespec{0, 0};
    return left;
  }
};

// nanosleep's contract, for a green caller: 0, or -1 with errno (EINVAL,
// EINTR and *rem).
int green_nanosleep(Hub& hub, const timespec* req, timespec* rem) {
  if (!valid_timespec(*req) || req->tv_sec < 0) {
    errno = EINVAL;
    return -1;
  }
  RelativeSleep sleep{*req};
  if (green_sleep_until(hub, sleep.deadline()) == SleepEnd::kInterrupted) {
    if (rem != nullptr) *rem = sleep.remaining();
    errno = EINTR;
    return -1;
  }
  return 0;
}

}  // namespace

extern "C" {

int nanosleep(const struct timespec* req, struct timespec* rem) {
  Hub* hub = green_hub();
  if (hub == nullptr || req == nullptr) return GREENHUB_REAL(nanosleep)(req, rem);
  return green_nanosleep(*hub, req, rem);
}

int __nanosleep(const struct timespec* req, struct timespec* rem) { return nanosleep(req, rem); }

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
  Hub* hub = green_hub();
  if (hub == nullptr || req == nullptr || !supported_sleep_clock(clock)) {
    return GREENHUB_REAL(clock_nanosleep)(clock, flags, req, rem);
  }
  if (!valid_timespec(*req) || req->tv_sec < 0) return EINVAL;
  if (flags & TIMER_ABSTIME) {
    // Interrupted absolute sleeps leave *rem alone, as the kernel does.
    return green_sleep_until(*hub, AbsDeadline::at(clock, *req)) == SleepEnd::kInterrupted ? EINTR : 0;
  }
  RelativeSleep sleep{*req};
  if (green_sleep_until(*hub, sleep.deadline()) == SleepEnd::kInterrupted) {
    if (rem != nullptr) *rem = sleep.remaining();
    return EINTR;
  }
  return 0;
}

// As glibc: nanosleep, and on interruption the whole seconds not slept
// (errno stays EINTR); errno is preserved otherwise.
unsigned int sleep(unsigned int seconds) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(sleep)(seconds);
  const int saved_errno = errno;
  timespec request{static_cast<time_t>(seconds), 0};
  timespec left{0, 0};
  if (green_nanosleep(*hub, &request, &left) < 0) return static_cast<unsigned int>(left.tv_sec);
  errno = saved_errno;
  return 0;
}

int usleep(useconds_t usec) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(usleep)(usec);
  timespec request{static_cast<time_t>(usec / 1000000), static_cast<long>(usec % 1000000) * 1000};
  return green_nanosleep(*hub, &request, nullptr);
}

// As glibc: clock_nanosleep on CLOCK_REALTIME; 0, -1 if interrupted, -2
// on any other error.
int thrd_sleep(const struct timespec* duration, struct timespec* remaining) {
  Hub* hub = green_hub();
  if (hub == nullptr || duration == nullptr) return GREENHUB_REAL(thrd_sleep)(duration, remaining);
  switch (clock_nanosleep(CLOCK_REALTIME, 0, duration, remaining)) {
    case 0: return 0;
    case EINTR: return -1;
    default: return -2;
  }
}

// Waits until a signal handler runs (for the caller): -1 with EINTR.
int pause(void) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(pause)();
  while (green_sleep_until(*hub, AbsDeadline::never()) != SleepEnd::kInterrupted) {
  }
  errno = EINTR;
  return -1;
}

}  // extern "C"
