// Helpers shared by the sync fixtures: deadlines, running a function in a
// thread, printing an errno-style result by name so that a mismatch reads
// well in the differential diff.
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static inline const char* err_name(int rc) {
  switch (rc) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EDEADLK: return "EDEADLK";
    case EPERM: return "EPERM";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EAGAIN: return "EAGAIN";
    case EOVERFLOW: return "EOVERFLOW";
    case EINTR: return "EINTR";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ESRCH: return "ESRCH";
    case ENOSYS: return "ENOSYS";
    case ENOTSUP: return "ENOTSUP";
    default: return "other";
  }
}

#define SHOW(expr)                                        \
  do {                                                    \
    int show_rc_ = (expr);                                \
    printf("%-58s -> %s\n", #expr, err_name(show_rc_)); \
  } while (0)

// For functions returning -1 and setting errno (sem_*).
#define SHOW_ERRNO(expr)                                                      \
  do {                                                                        \
    errno = 0;                                                                \
    int show_rc_ = (expr);                                                    \
    printf("%-58s -> %d errno %s\n", #expr, show_rc_, err_name(show_rc_ == 0 ? 0 : errno)); \
  } while (0)

static inline struct timespec ts_after_ms(clockid_t clock, long ms) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_nsec -= 1000000000L;
    ts.tv_sec += 1;
  } else if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

static inline struct timespec ts_past(clockid_t clock) { return ts_after_ms(clock, -1500); }

static inline long elapsed_ms_since(const struct timespec* start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

// Runs fn(arg) in a new thread and returns what it returned, as an int.
static inline int in_thread(void* (*fn)(void*), void* arg) {
  pthread_t t;
  if (pthread_create(&t, NULL, fn, arg) != 0) return -1;
  void* result = NULL;
  pthread_join(t, &result);
  return (int)(intptr_t)result;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}
