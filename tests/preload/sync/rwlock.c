// pthread_rwlock_*: readers share, writers exclude, EDEADLK for a writer
// asking again, try/timed/clock variants and their bad input, reader
// preference (glibc's default) vs PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
// while a writer waits, a stress of readers and writers, and process-shared
// locks (libc's).
#include <stdlib.h>

#include "sync_fixture.h"

static pthread_rwlock_t rw;

static void* try_read(void* arg) {
  (void)arg;
  int rc = pthread_rwlock_tryrdlock(&rw);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}
static void* try_write(void* arg) {
  (void)arg;
  int rc = pthread_rwlock_trywrlock(&rw);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}
static void* timed_read_past(void* arg) {
  (void)arg;
  struct timespec past = ts_past(CLOCK_REALTIME);
  int rc = pthread_rwlock_timedrdlock(&rw, &past);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}
static void* timed_write_past(void* arg) {
  (void)arg;
  struct timespec past = ts_past(CLOCK_REALTIME);
  int rc = pthread_rwlock_timedwrlock(&rw, &past);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}
static void* timed_write_neg(void* arg) {
  (void)arg;
  struct timespec neg = {-1, 0};
  int rc = pthread_rwlock_timedwrlock(&rw, &neg);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}
static void* clock_read_30ms(void* arg) {
  clockid_t clock = (clockid_t)(intptr_t)arg;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = ts_after_ms(clock, 30);
  int rc = pthread_rwlock_clockrdlock(&rw, clock, &soon);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)(rc == ETIMEDOUT && elapsed_ms_since(&start) >= 29 ? 1000 : rc);
}
static void* clock_write_30ms(void* arg) {
  clockid_t clock = (clockid_t)(intptr_t)arg;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = ts_after_ms(clock, 30);
  int rc = pthread_rwlock_clockwrlock(&rw, clock, &soon);
  if (rc == 0) pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)(rc == ETIMEDOUT && elapsed_ms_since(&start) >= 29 ? 1000 : rc);
}

static const char* timed_name(int r) { return r == 1000 ? "ETIMEDOUT after the deadline" : err_name(r); }

static void basics(void) {
  printf("== basics\n");
  SHOW(pthread_rwlock_init(&rw, NULL));
  struct timespec past = ts_past(CLOCK_REALTIME);
  struct timespec bad = {0, 1000000000L};
  struct timespec neg = {-1, 0};
  // Bad deadlines are EINVAL even when the lock is free.
  SHOW(pthread_rwlock_timedrdlock(&rw, &bad));
  SHOW(pthread_rwlock_timedwrlock(&rw, &bad));
  SHOW(pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &past));
  SHOW(pthread_rwlock_clockwrlock(&rw, CLOCK_BOOTTIME, &past));
  SHOW(pthread_rwlock_timedrdlock(&rw, &past));
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_timedwrlock(&rw, &neg));
  SHOW(pthread_rwlock_unlock(&rw));

  printf("-- read-locked twice\n");
  SHOW(pthread_rwlock_rdlock(&rw));
  SHOW(pthread_rwlock_rdlock(&rw));
  SHOW(pthread_rwlock_tryrdlock(&rw));
  SHOW(pthread_rwlock_trywrlock(&rw));
  printf("tryrdlock from another thread -> %s\n", err_name(in_thread(try_read, NULL)));
  printf("trywrlock from another thread -> %s\n", err_name(in_thread(try_write, NULL)));
  printf("timedrdlock past from another thread -> %s\n", err_name(in_thread(timed_read_past, NULL)));
  printf("timedwrlock past from another thread -> %s\n", err_name(in_thread(timed_write_past, NULL)));
  printf("timedwrlock tv_sec<0 from another thread -> %s\n", err_name(in_thread(timed_write_neg, NULL)));
  printf("clockwrlock monotonic 30ms -> %s\n",
         timed_name(in_thread(clock_write_30ms, (void*)(intptr_t)CLOCK_MONOTONIC)));
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_unlock(&rw));

  printf("-- write-locked\n");
  SHOW(pthread_rwlock_wrlock(&rw));
  SHOW(pthread_rwlock_rdlock(&rw));
  SHOW(pthread_rwlock_wrlock(&rw));
  SHOW(pthread_rwlock_timedrdlock(&rw, &past));
  SHOW(pthread_rwlock_timedwrlock(&rw, &past));
  SHOW(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &past));
  SHOW(pthread_rwlock_tryrdlock(&rw));
  SHOW(pthread_rwlock_trywrlock(&rw));
  printf("tryrdlock from another thread -> %s\n", err_name(in_thread(try_read, NULL)));
  printf("trywrlock from another thread -> %s\n", err_name(in_thread(try_write, NULL)));
  printf("timedrdlock past from another thread -> %s\n", err_name(in_thread(timed_read_past, NULL)));
  printf("timedwrlock past from another thread -> %s\n", err_name(in_thread(timed_write_past, NULL)));
  printf("clockrdlock realtime 30ms -> %s\n",
         timed_name(in_thread(clock_read_30ms, (void*)(intptr_t)CLOCK_REALTIME)));
  printf("clockwrlock realtime 30ms -> %s\n",
         timed_name(in_thread(clock_write_30ms, (void*)(intptr_t)CLOCK_REALTIME)));
  SHOW(pthread_rwlock_unlock(&rw));
  printf("tryrdlock from another thread -> %s\n", err_name(in_thread(try_read, NULL)));
  SHOW(pthread_rwlock_trywrlock(&rw));
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_destroy(&rw));
}

// --- a writer waits on a read-locked lock -----------------------------------

static int writer_state;  // 1 waiting, 2 acquired

static void* blocked_writer(void* arg) {
  (void)arg;
  __atomic_store_n(&writer_state, 1, __ATOMIC_RELEASE);
  int rc = pthread_rwlock_wrlock(&rw);
  __atomic_store_n(&writer_state, 2, __ATOMIC_RELEASE);
  pthread_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}

static void writer_waiting(const char* label, int kind) {
  printf("== a writer waits, %s\n", label);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  SHOW(pthread_rwlockattr_setkind_np(&attr, kind));
  SHOW(pthread_rwlock_init(&rw, &attr));
  pthread_rwlockattr_destroy(&attr);
  writer_state = 0;
  SHOW(pthread_rwlock_rdlock(&rw));
  pthread_t w;
  pthread_create(&w, NULL, blocked_writer, NULL);
  while (__atomic_load_n(&writer_state, __ATOMIC_ACQUIRE) == 0) sleep_ms(1);
  sleep_ms(30);
  printf("writer still waiting: %s\n", __atomic_load_n(&writer_state, __ATOMIC_ACQUIRE) == 1 ? "yes" : "no");
  // A new reader while a writer waits: admitted when readers are preferred.
  int second = pthread_rwlock_tryrdlock(&rw);
  printf("tryrdlock while the writer waits -> %s\n", err_name(second));
  printf("tryrdlock from another thread -> %s\n", err_name(in_thread(try_read, NULL)));
  printf("trywrlock from another thread -> %s\n", err_name(in_thread(try_write, NULL)));
  printf("timedrdlock past from another thread -> %s\n", err_name(in_thread(timed_read_past, NULL)));
  if (second == 0) SHOW(pthread_rwlock_unlock(&rw));
  sleep_ms(10);
  printf("writer still waiting with one reader left: %s\n",
         __atomic_load_n(&writer_state, __ATOMIC_ACQUIRE) == 1 ? "yes" : "no");
  SHOW(pthread_rwlock_unlock(&rw));
  void* result;
  pthread_join(w, &result);
  printf("writer acquired after the readers left: %s (rc %s)\n",
         __atomic_load_n(&writer_state, __ATOMIC_ACQUIRE) == 2 ? "yes" : "no",
         err_name((int)(intptr_t)result));
  SHOW(pthread_rwlock_trywrlock(&rw));
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_destroy(&rw));
}

// --- stress: writers keep two counters equal; readers check them ------------

enum { kReaders = 4, kWriters = 4, kRounds = 1500 };
static long a, b;
static int mismatches;
static long reads;

static void* reader(void* arg) {
  int mode = (int)(intptr_t)arg;
  for (int i = 0; i < kRounds; ++i) {
    if (mode == 0) {
      pthread_rwlock_rdlock(&rw);
    } else {
      struct timespec soon = ts_after_ms(CLOCK_MONOTONIC, 10000);
      if (pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &soon) != 0) abort();
    }
    if (a != b) __atomic_add_fetch(&mismatches, 1, __ATOMIC_RELAXED);
    if (i % 50 == 0) sched_yield();
    __atomic_add_fetch(&reads, 1, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&rw);
  }
  return NULL;
}

static void* writer(void* arg) {
  int mode = (int)(intptr_t)arg;
  for (int i = 0; i < kRounds; ++i) {
    if (mode == 0) {
      pthread_rwlock_wrlock(&rw);
    } else if (mode == 1) {
      while (pthread_rwlock_trywrlock(&rw) == EBUSY) sched_yield();
    } else {
      struct timespec soon = ts_after_ms(CLOCK_REALTIME, 10000);
      if (pthread_rwlock_timedwrlock(&rw, &soon) != 0) abort();
    }
    ++a;
    if (i % 40 == 0) sched_yield();
    ++b;
    pthread_rwlock_unlock(&rw);
  }
  return NULL;
}

static void stress(const char* label, int kind) {
  printf("== stress, %s\n", label);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, kind);
  pthread_rwlock_init(&rw, &attr);
  pthread_rwlockattr_destroy(&attr);
  a = b = reads = 0;
  mismatches = 0;
  pthread_t r[kReaders], w[kWriters];
  for (int i = 0; i < kReaders; ++i) pthread_create(&r[i], NULL, reader, (void*)(intptr_t)(i % 2));
  for (int i = 0; i < kWriters; ++i) pthread_create(&w[i], NULL, writer, (void*)(intptr_t)(i % 3));
  for (int i = 0; i < kReaders; ++i) pthread_join(r[i], NULL);
  for (int i = 0; i < kWriters; ++i) pthread_join(w[i], NULL);
  printf("writes %ld (expected %d), reads %ld, torn reads %d\n", a, kWriters * kRounds, reads, mismatches);
  SHOW(pthread_rwlock_destroy(&rw));
}

static pthread_rwlock_t static_rw = PTHREAD_RWLOCK_INITIALIZER;

static void process_shared_and_static(void) {
  printf("== static initializer, process-shared\n");
  SHOW(pthread_rwlock_wrlock(&static_rw));
  SHOW(pthread_rwlock_rdlock(&static_rw));
  SHOW(pthread_rwlock_unlock(&static_rw));
  SHOW(pthread_rwlock_rdlock(&static_rw));
  SHOW(pthread_rwlock_trywrlock(&static_rw));
  SHOW(pthread_rwlock_unlock(&static_rw));

  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  SHOW(pthread_rwlock_init(&rw, &attr));
  pthread_rwlockattr_destroy(&attr);
  struct timespec past = ts_past(CLOCK_REALTIME);
  SHOW(pthread_rwlock_rdlock(&rw));
  SHOW(pthread_rwlock_trywrlock(&rw));
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_wrlock(&rw));
  SHOW(pthread_rwlock_wrlock(&rw));
  SHOW(pthread_rwlock_timedrdlock(&rw, &past));
  // Only the owner uses it here: libc's locks know threads by kernel tid,
  // which green threads of one hub share (see the README).
  SHOW(pthread_rwlock_unlock(&rw));
  SHOW(pthread_rwlock_destroy(&rw));
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  basics();
  writer_waiting("readers preferred (default)", PTHREAD_RWLOCK_PREFER_READER_NP);
  writer_waiting("writers preferred (nonrecursive)", PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  stress("readers preferred", PTHREAD_RWLOCK_PREFER_READER_NP);
  stress("writers preferred", PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  process_shared_and_static();
  return 0;
}
