// AbsDeadline: when a blocking libc call gives up, as libc states it: an
// absolute time on a clock (pthread_cond_timedwait, sem_timedwait,
// clock_nanosleep TIMER_ABSTIME) or a relative timeout turned into an
// absolute CLOCK_MONOTONIC time at the start of the call (poll, nanosleep).
// Green waits turn it into a hub Deadline; real threads into a futex
// deadline. CLOCK_REALTIME deadlines follow wall-clock changes in both.
#pragma once

#include <time.h>

#include <cstdint>

#include "greenhub/runtime.hpp"

namespace greenhub::preload {

inline int64_t timespec_to_ns(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline timespec ns_to_timespec(int64_t ns) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}

inline int64_t clock_now_ns(clockid_t clock) {
  timespec now;
  clock_gettime(clock, &now);
  return timespec_to_ns(now);
}

inline bool valid_timespec(const timespec& ts) {
  return ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}

struct AbsDeadline {
  bool infinite = true;
  clockid_t clock = CLOCK_MONOTONIC;
  int64_t at_ns = 0;

  static AbsDeadline never() { return {}; }
  static AbsDeadline at(clockid_t clock, const timespec& ts) {
    return AbsDeadline{false, clock, timespec_to_ns(ts)};
  }
  static AbsDeadline after_ns(int64_t ns) {
    return AbsDeadline{false, CLOCK_MONOTONIC, clock_now_ns(CLOCK_MONOTONIC) + ns};
  }

  int64_t remaining_ns() const { return at_ns - clock_now_ns(clock); }
  bool expired() const { return !infinite && remaining_ns() <= 0; }

  // For a hub park.
  Deadline to_hub() const {
    if (infinite) return Deadline::never();
    if (clock == CLOCK_REALTIME) return Deadline::wall_clock(static_cast<double>(at_ns) / 1e9);
    return Deadline::after_seconds(static_cast<double>(remaining_ns()) / 1e9);
  }

  // For a futex wait: CLOCK_REALTIME stays as is, every other clock becomes
  // CLOCK_MONOTONIC.
  void to_futex(timespec* ts, clockid_t* futex_clock) const {
    if (clock == CLOCK_REALTIME) {
      *futex_clock = CLOCK_REALTIME;
      *ts = ns_to_timespec(at_ns);
    } else {
      *futex_clock = CLOCK_MONOTONIC;
      *ts = ns_to_timespec(clock_now_ns(CLOCK_MONOTONIC) + remaining_ns());
    }
  }
};

}  // namespace greenhub::preload
