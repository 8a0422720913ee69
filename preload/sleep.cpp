// Sleeping, green: sleep, usleep, nanosleep, clock_nanosleep, thrd_sleep.
//
// A green caller parks on a hub timer (CLOCK_REALTIME absolute deadlines on
// a wall-clock timer that follows clock changes) and returns what the
// kernel would: 0, or EINVAL for a bad request, with the same argument
// checks. Each is a cancellation point. Any other caller goes to libc.
//
// Not reproduced: EINTR from a signal handler that runs while a green
// thread sleeps (the handler runs, the sleep continues); see the README.
#include <errno.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "deadline.hpp"
#include "green_thread.hpp"
#include "real.hpp"
#include "runtime.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

// Parks the calling green thread until the deadline. Acts on cancellation.
void green_sleep_until(Hub& hub, const AbsDeadline& deadline) {
  GreenThread* self = GreenThread::current();
  if (self != nullptr) self->test_cancel();
  GreenletBase* g = hub.current_greenlet();
  const char* previous = g->waiting_on();
  g->set_waiting_on("sleep");
  for (;;) {
    if (deadline.expired()) break;
    WaitToken token = hub.prepare_park();
    WakeReason reason = hub.park(token, deadline.to_hub());
    if (reason == WakeReason::kTimedOut) break;
    if (self != nullptr) {
      g->set_waiting_on(previous);
      self->test_cancel();
      g->set_waiting_on("sleep");
    }
  }
  g->set_waiting_on(previous);
}

bool supported_sleep_clock(clockid_t clock) {
  return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME;
}

}  // namespace

extern "C" {

int nanosleep(const struct timespec* req, struct timespec* rem) {
  Hub* hub = green_hub();
  if (hub == nullptr || req == nullptr) return GREENHUB_REAL(nanosleep)(req, rem);
  if (!valid_timespec(*req) || req->tv_sec < 0) {
    errno = EINVAL;
    return -1;
  }
  green_sleep_until(*hub, AbsDeadline::after_ns(timespec_to_ns(*req)));
  return 0;
}

int __nanosleep(const struct timespec* req, struct timespec* rem) { return nanosleep(req, rem); }

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
  Hub* hub = green_hub();
  if (hub == nullptr || req == nullptr || !supported_sleep_clock(clock)) {
    return GREENHUB_REAL(clock_nanosleep)(clock, flags, req, rem);
  }
  if (!valid_timespec(*req) || req->tv_sec < 0) return EINVAL;
  if (flags & TIMER_ABSTIME) {
    green_sleep_until(*hub, AbsDeadline::at(clock, *req));
  } else {
    green_sleep_until(*hub, AbsDeadline::after_ns(timespec_to_ns(*req)));
  }
  return 0;
}

unsigned int sleep(unsigned int seconds) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(sleep)(seconds);
  green_sleep_until(*hub, AbsDeadline::after_ns(static_cast<int64_t>(seconds) * 1000000000));
  return 0;
}

int usleep(useconds_t usec) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(usleep)(usec);
  green_sleep_until(*hub, AbsDeadline::after_ns(static_cast<int64_t>(usec) * 1000));
  return 0;
}

int thrd_sleep(const struct timespec* duration, struct timespec* remaining) {
  Hub* hub = green_hub();
  if (hub == nullptr || duration == nullptr) return GREENHUB_REAL(thrd_sleep)(duration, remaining);
  if (!valid_timespec(*duration) || duration->tv_sec < 0) return -2;  // as glibc: -errno-ish
  green_sleep_until(*hub, AbsDeadline::after_ns(timespec_to_ns(*duration)));
  return 0;
}

}  // extern "C"
