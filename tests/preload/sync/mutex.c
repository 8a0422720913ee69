// pthread_mutex_*: every kind (normal, recursive, errorcheck, adaptive, the
// static initializers), lock/trylock/timedlock/clocklock/unlock/destroy/
// consistent, their error codes, contention between threads, and mutexes
// that go to libc untouched (robust, priority-inheritance, process-shared).
#include <limits.h>
#include <stdlib.h>

#include "sync_fixture.h"

static pthread_mutex_t shared_mutex;

static void* try_lock_shared(void* arg) {
  (void)arg;
  return (void*)(intptr_t)pthread_mutex_trylock(&shared_mutex);
}
static void* unlock_shared(void* arg) {
  (void)arg;
  return (void*)(intptr_t)pthread_mutex_unlock(&shared_mutex);
}
static void* timedlock_shared_past(void* arg) {
  (void)arg;
  struct timespec past = ts_past(CLOCK_REALTIME);
  return (void*)(intptr_t)pthread_mutex_timedlock(&shared_mutex, &past);
}
static void* timedlock_shared_neg(void* arg) {
  (void)arg;
  struct timespec neg = {-1, 0};
  return (void*)(intptr_t)pthread_mutex_timedlock(&shared_mutex, &neg);
}
static void* timedlock_shared_bad_nsec(void* arg) {
  (void)arg;
  struct timespec bad = ts_after_ms(CLOCK_REALTIME, 1000);
  bad.tv_nsec = 1000000000L;
  return (void*)(intptr_t)pthread_mutex_timedlock(&shared_mutex, &bad);
}
static void* clocklock_shared_20ms(void* arg) {
  clockid_t clock = (clockid_t)(intptr_t)arg;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = ts_after_ms(clock, 20);
  int rc = pthread_mutex_clocklock(&shared_mutex, clock, &soon);
  long ms = elapsed_ms_since(&start);
  return (void*)(intptr_t)(rc == ETIMEDOUT && ms >= 19 ? 1000 + rc : rc);
}

static void kinds_and_errors(const char* label, int type) {
  printf("== %s\n", label);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, type);
  SHOW(pthread_mutex_init(&shared_mutex, &attr));
  pthread_mutexattr_destroy(&attr);

  SHOW(pthread_mutex_lock(&shared_mutex));
  SHOW(pthread_mutex_trylock(&shared_mutex));
  SHOW(pthread_mutex_destroy(&shared_mutex));
  printf("trylock from another thread -> %s\n", err_name(in_thread(try_lock_shared, NULL)));
  printf("timedlock past from another thread -> %s\n", err_name(in_thread(timedlock_shared_past, NULL)));
  printf("timedlock tv_sec<0 from another thread -> %s\n", err_name(in_thread(timedlock_shared_neg, NULL)));
  printf("timedlock bad nsec from another thread -> %s\n",
         err_name(in_thread(timedlock_shared_bad_nsec, NULL)));
  int r = in_thread(clocklock_shared_20ms, (void*)(intptr_t)CLOCK_MONOTONIC);
  printf("clocklock monotonic 20ms -> %s\n", r == 1000 + ETIMEDOUT ? "ETIMEDOUT after the deadline" : err_name(r));
  r = in_thread(clocklock_shared_20ms, (void*)(intptr_t)CLOCK_REALTIME);
  printf("clocklock realtime 20ms -> %s\n", r == 1000 + ETIMEDOUT ? "ETIMEDOUT after the deadline" : err_name(r));
  if (type != PTHREAD_MUTEX_NORMAL && type != PTHREAD_MUTEX_ADAPTIVE_NP) {
    printf("unlock from another thread -> %s\n", err_name(in_thread(unlock_shared, NULL)));
  }
  struct timespec past = ts_past(CLOCK_REALTIME);
  if (type != PTHREAD_MUTEX_NORMAL && type != PTHREAD_MUTEX_ADAPTIVE_NP) {
    // The owner relocking: EDEADLK or a recursion, never a timeout.
    SHOW(pthread_mutex_timedlock(&shared_mutex, &past));
    struct timespec bad = {0, -5};
    SHOW(pthread_mutex_clocklock(&shared_mutex, CLOCK_MONOTONIC, &bad));
    SHOW(pthread_mutex_lock(&shared_mutex));
  }
  SHOW(pthread_mutex_clocklock(&shared_mutex, CLOCK_PROCESS_CPUTIME_ID, &past));
  SHOW(pthread_mutex_consistent(&shared_mutex));
  int unlocks = 0;
  while (pthread_mutex_unlock(&shared_mutex) == 0 && unlocks < 10) {
    ++unlocks;
    if (type == PTHREAD_MUTEX_NORMAL || type == PTHREAD_MUTEX_ADAPTIVE_NP) break;
  }
  printf("unlocked %d times\n", unlocks);
  if (type != PTHREAD_MUTEX_NORMAL && type != PTHREAD_MUTEX_ADAPTIVE_NP) {
    SHOW(pthread_mutex_unlock(&shared_mutex));
  }
  // Uncontended timed locks ignore the deadline, whatever it says.
  SHOW(pthread_mutex_timedlock(&shared_mutex, &past));
  SHOW(pthread_mutex_unlock(&shared_mutex));
  struct timespec bad = {0, 2000000000L};
  SHOW(pthread_mutex_timedlock(&shared_mutex, &bad));
  SHOW(pthread_mutex_unlock(&shared_mutex));
  SHOW(pthread_mutex_clocklock(&shared_mutex, CLOCK_MONOTONIC, &past));
  SHOW(pthread_mutex_unlock(&shared_mutex));
  SHOW(pthread_mutex_trylock(&shared_mutex));
  SHOW(pthread_mutex_unlock(&shared_mutex));
  SHOW(pthread_mutex_destroy(&shared_mutex));
  // Destroyed: glibc marks it so, and every call says EINVAL.
  SHOW(pthread_mutex_lock(&shared_mutex));
  SHOW(pthread_mutex_trylock(&shared_mutex));
  SHOW(pthread_mutex_unlock(&shared_mutex));
}

// --- static initializers ----------------------------------------------------

static pthread_mutex_t static_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t static_recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t static_errorcheck = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_mutex_t static_adaptive = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

static void static_initializers(void) {
  printf("== static initializers\n");
  SHOW(pthread_mutex_lock(&static_normal));
  SHOW(pthread_mutex_trylock(&static_normal));
  SHOW(pthread_mutex_unlock(&static_normal));
  SHOW(pthread_mutex_lock(&static_recursive));
  SHOW(pthread_mutex_lock(&static_recursive));
  SHOW(pthread_mutex_trylock(&static_recursive));
  printf("recursive count %u\n", static_recursive.__data.__count);
  SHOW(pthread_mutex_destroy(&static_recursive));
  SHOW(pthread_mutex_unlock(&static_recursive));
  SHOW(pthread_mutex_unlock(&static_recursive));
  SHOW(pthread_mutex_unlock(&static_recursive));
  SHOW(pthread_mutex_unlock(&static_recursive));
  SHOW(pthread_mutex_lock(&static_errorcheck));
  SHOW(pthread_mutex_lock(&static_errorcheck));
  SHOW(pthread_mutex_unlock(&static_errorcheck));
  SHOW(pthread_mutex_unlock(&static_errorcheck));
  SHOW(pthread_mutex_lock(&static_adaptive));
  SHOW(pthread_mutex_trylock(&static_adaptive));
  SHOW(pthread_mutex_unlock(&static_adaptive));
  SHOW(pthread_mutex_destroy(&static_normal));
  SHOW(pthread_mutex_destroy(&static_adaptive));
}

// --- bad input -----------------------------------------------------------------

static void bad_input(void) {
  printf("== bad input\n");
  pthread_mutex_t m;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  SHOW(pthread_mutexattr_settype(&attr, 42));
  SHOW(pthread_mutex_init(&m, &attr));
  pthread_mutexattr_destroy(&attr);
  SHOW(pthread_mutex_init(&m, NULL));
  SHOW(pthread_mutex_lock(&m));
  // Destroying a locked mutex: EBUSY, and it stays usable.
  SHOW(pthread_mutex_destroy(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_destroy(&m));
  // A normal mutex unlocked twice (glibc allows it and keeps counting users).
  pthread_mutex_init(&m, NULL);
  SHOW(pthread_mutex_lock(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_destroy(&m));
  // Recursion up to the counter's limit: EAGAIN.
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&m, &attr);
  pthread_mutexattr_destroy(&attr);
  SHOW(pthread_mutex_lock(&m));
  m.__data.__count = UINT_MAX;
  SHOW(pthread_mutex_lock(&m));
  SHOW(pthread_mutex_trylock(&m));
  struct timespec past = ts_past(CLOCK_REALTIME);
  SHOW(pthread_mutex_timedlock(&m, &past));
  m.__data.__count = 1;
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_destroy(&m));
}

// --- contention ------------------------------------------------------------------

enum { kWorkers = 8, kIncrements = 2000 };
static pthread_mutex_t counter_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t counter_recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static long counter;            // under counter_mutex
static long recursive_entries;  // under counter_recursive
static int timed_acquired;

static void* increment(void* arg) {
  int mode = (int)(intptr_t)arg;
  for (int i = 0; i < kIncrements; ++i) {
    if (mode == 0) {
      pthread_mutex_lock(&counter_mutex);
    } else if (mode == 1) {
      while (pthread_mutex_trylock(&counter_mutex) == EBUSY) sched_yield();
    } else {
      struct timespec soon = ts_after_ms(CLOCK_REALTIME, 10000);
      if (pthread_mutex_timedlock(&counter_mutex, &soon) != 0) abort();
      __atomic_add_fetch(&timed_acquired, 1, __ATOMIC_RELAXED);
    }
    long v = counter;
    if (i % 97 == 0) sched_yield();  // hold the lock across a switch now and then
    counter = v + 1;
    pthread_mutex_unlock(&counter_mutex);
  }
  // Recursive: nested locking from many threads.
  pthread_mutex_lock(&counter_recursive);
  pthread_mutex_lock(&counter_recursive);
  ++recursive_entries;
  pthread_mutex_unlock(&counter_recursive);
  pthread_mutex_unlock(&counter_recursive);
  return NULL;
}

static void contention(void) {
  printf("== contention\n");
  pthread_t t[kWorkers];
  for (int i = 0; i < kWorkers; ++i) pthread_create(&t[i], NULL, increment, (void*)(intptr_t)(i % 3));
  for (int i = 0; i < kWorkers; ++i) pthread_join(t[i], NULL);
  printf("counter %ld (expected %d), recursive entries %ld (expected %d), timed acquisitions %d\n",
         counter, kWorkers * kIncrements, recursive_entries, kWorkers, timed_acquired);
  SHOW(pthread_mutex_destroy(&counter_mutex));
}

// A thread blocked in lock wakes when the owner unlocks; the owner holds it
// a while, so the waiter really parks.
static pthread_mutex_t handoff = PTHREAD_MUTEX_INITIALIZER;
static void* lock_and_report(void* arg) {
  (void)arg;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_mutex_lock(&handoff);
  long waited = elapsed_ms_since(&start);
  pthread_mutex_unlock(&handoff);
  return (void*)(intptr_t)(waited >= 25 ? 1 : 0);
}

static void blocking_handoff(void) {
  printf("== blocking handoff\n");
  pthread_mutex_lock(&handoff);
  pthread_t t;
  pthread_create(&t, NULL, lock_and_report, NULL);
  sleep_ms(30);
  printf("destroy while a thread waits -> %s\n", err_name(pthread_mutex_destroy(&handoff)));
  pthread_mutex_unlock(&handoff);
  void* r;
  pthread_join(t, &r);
  printf("waiter blocked until the unlock: %s\n", r ? "yes" : "no");
}

// --- mutexes libc keeps: robust, PI, process-shared ------------------------

static void libc_kinds(void) {
  printf("== robust, priority-inheritance, process-shared\n");
  pthread_mutexattr_t attr;
  pthread_mutex_t m;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  SHOW(pthread_mutex_init(&m, &attr));
  SHOW(pthread_mutex_lock(&m));
  SHOW(pthread_mutex_trylock(&m));
  SHOW(pthread_mutex_consistent(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_destroy(&m));
  pthread_mutexattr_destroy(&attr);

  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  SHOW(pthread_mutex_init(&m, &attr));
  SHOW(pthread_mutex_lock(&m));
  SHOW(pthread_mutex_lock(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_destroy(&m));
  pthread_mutexattr_destroy(&attr);

  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  SHOW(pthread_mutex_init(&m, &attr));
  SHOW(pthread_mutex_lock(&m));
  SHOW(pthread_mutex_trylock(&m));
  SHOW(pthread_mutex_destroy(&m));
  SHOW(pthread_mutex_unlock(&m));
  SHOW(pthread_mutex_destroy(&m));
  pthread_mutexattr_destroy(&attr);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  kinds_and_errors("normal", PTHREAD_MUTEX_NORMAL);
  kinds_and_errors("recursive", PTHREAD_MUTEX_RECURSIVE);
  kinds_and_errors("errorcheck", PTHREAD_MUTEX_ERRORCHECK);
  kinds_and_errors("adaptive", PTHREAD_MUTEX_ADAPTIVE_NP);
  static_initializers();
  bad_input();
  contention();
  blocking_handoff();
  libc_kinds();
  return 0;
}
