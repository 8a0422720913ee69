// sem_*: init limits, getvalue, post up to SEM_VALUE_MAX (EOVERFLOW),
// trywait (EAGAIN), timedwait/clockwait deadlines and bad input, blocking
// waits woken by posts from other threads, many producers and consumers,
// cancellation in sem_wait (on entry and while blocked), and semaphores
// libc keeps (process-shared, named), waited for while another thread or
// process posts them.
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync_fixture.h"

static sem_t s;

static void show_value(const char* label, sem_t* sem) {
  int v = -1;
  int rc = sem_getvalue(sem, &v);
  printf("%s: getvalue rc %d value %d\n", label, rc, v);
}

static void* post_after_30ms(void* arg) {
  sleep_ms(30);
  sem_post(arg);
  return NULL;
}

static void limits_and_errors(void) {
  printf("== limits and errors\n");
  SHOW_ERRNO(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1));
  SHOW_ERRNO(sem_init(&s, 0, SEM_VALUE_MAX));
  show_value("at SEM_VALUE_MAX", &s);
  SHOW_ERRNO(sem_post(&s));
  show_value("after the overflowing post", &s);
  SHOW_ERRNO(sem_trywait(&s));
  SHOW_ERRNO(sem_post(&s));
  SHOW_ERRNO(sem_destroy(&s));

  SHOW_ERRNO(sem_init(&s, 0, 0));
  show_value("fresh", &s);
  SHOW_ERRNO(sem_trywait(&s));
  struct timespec past = ts_past(CLOCK_REALTIME);
  struct timespec past_mono = ts_past(CLOCK_MONOTONIC);
  struct timespec neg = {-1, 0};
  struct timespec bad = {0, 1000000000L};
  struct timespec bad_neg = {-1, -1};
  SHOW_ERRNO(sem_timedwait(&s, &past));
  SHOW_ERRNO(sem_timedwait(&s, &neg));
  SHOW_ERRNO(sem_timedwait(&s, &bad));
  SHOW_ERRNO(sem_timedwait(&s, &bad_neg));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &past_mono));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_REALTIME, &neg));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &bad));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &past));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_BOOTTIME, &past));

  // With a token: bad deadlines are still EINVAL, past ones take it.
  SHOW_ERRNO(sem_post(&s));
  SHOW_ERRNO(sem_timedwait(&s, &bad));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &past));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &bad));
  show_value("one token", &s);
  SHOW_ERRNO(sem_timedwait(&s, &past));
  SHOW_ERRNO(sem_post(&s));
  SHOW_ERRNO(sem_clockwait(&s, CLOCK_MONOTONIC, &neg));
  SHOW_ERRNO(sem_post(&s));
  SHOW_ERRNO(sem_post(&s));
  SHOW_ERRNO(sem_wait(&s));
  SHOW_ERRNO(sem_trywait(&s));
  SHOW_ERRNO(sem_trywait(&s));
  show_value("drained", &s);

  // Real timeouts, and real wake-ups by a post from another thread.
  for (int i = 0; i < 3; ++i) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc;
    if (i == 0) {
      struct timespec d = ts_after_ms(CLOCK_REALTIME, 30);
      rc = sem_timedwait(&s, &d);
    } else {
      clockid_t clock = i == 1 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
      struct timespec d = ts_after_ms(clock, 30);
      rc = sem_clockwait(&s, clock, &d);
    }
    int err = errno;
    printf("%s 30 ms: rc %d errno %s, waited: %s\n", i == 0 ? "timedwait" : i == 1 ? "clockwait monotonic" : "clockwait realtime",
           rc, err_name(rc ? err : 0), elapsed_ms_since(&start) >= 29 ? "yes" : "no");
  }
  for (int i = 0; i < 3; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, post_after_30ms, &s);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int rc;
    if (i == 0) {
      rc = sem_wait(&s);
    } else if (i == 1) {
      struct timespec d = ts_after_ms(CLOCK_REALTIME, 10000);
      rc = sem_timedwait(&s, &d);
    } else {
      struct timespec d = ts_after_ms(CLOCK_MONOTONIC, 10000);
      rc = sem_clockwait(&s, CLOCK_MONOTONIC, &d);
    }
    long ms = elapsed_ms_since(&start);
    pthread_join(t, NULL);
    printf("blocking wait %d woken by a post: rc %d, blocked until the post: %s\n", i, rc,
           ms >= 25 && ms < 5000 ? "yes" : "no");
  }
  SHOW_ERRNO(sem_destroy(&s));
}

// --- producers and consumers ---------------------------------------------------

enum { kThreads = 6, kPerThread = 3000 };
static sem_t items, slots;
static long total;

static void* producer(void* arg) {
  (void)arg;
  for (int i = 0; i < kPerThread; ++i) {
    if (i % 2) {
      sem_wait(&slots);
    } else {
      while (sem_trywait(&slots) != 0) sched_yield();
    }
    sem_post(&items);
  }
  return NULL;
}

static void* consumer(void* arg) {
  (void)arg;
  for (int i = 0; i < kPerThread; ++i) {
    if (i % 3 == 0) {
      struct timespec d = ts_after_ms(CLOCK_MONOTONIC, 10000);
      if (sem_clockwait(&items, CLOCK_MONOTONIC, &d) != 0) abort();
    } else {
      sem_wait(&items);
    }
    __atomic_add_fetch(&total, 1, __ATOMIC_RELAXED);
    sem_post(&slots);
  }
  return NULL;
}

static void producers_consumers(void) {
  printf("== producers and consumers\n");
  sem_init(&items, 0, 0);
  sem_init(&slots, 0, 4);
  pthread_t p[kThreads], c[kThreads];
  for (int i = 0; i < kThreads; ++i) pthread_create(&c[i], NULL, consumer, NULL);
  for (int i = 0; i < kThreads; ++i) pthread_create(&p[i], NULL, producer, NULL);
  for (int i = 0; i < kThreads; ++i) pthread_join(p[i], NULL);
  for (int i = 0; i < kThreads; ++i) pthread_join(c[i], NULL);
  printf("consumed %ld (expected %d)\n", total, kThreads * kPerThread);
  show_value("items", &items);
  show_value("slots", &slots);
}

// --- cancellation ------------------------------------------------------------------

static int cancel_stage;

static void* wait_to_be_cancelled(void* arg) {
  int mode = (int)(intptr_t)arg;
  if (mode != 0) {
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    __atomic_store_n(&cancel_stage, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&cancel_stage, __ATOMIC_ACQUIRE) != 2) sleep_ms(1);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    if (mode == 1) {
      sem_wait(&s);  // a token is there, yet sem_wait acts on the cancel first
    } else {
      // sem_clockwait takes an available token without acting on it.
      struct timespec d = ts_after_ms(CLOCK_MONOTONIC, 10000);
      int rc = sem_clockwait(&s, CLOCK_MONOTONIC, &d);
      printf("clockwait with a token and a pending cancel: rc %d\n", rc);
      pthread_testcancel();
    }
    return (void*)(intptr_t)1;
  }
  __atomic_store_n(&cancel_stage, 1, __ATOMIC_RELEASE);
  sem_wait(&s);
  return (void*)(intptr_t)1;
}

static void cancellation(void) {
  printf("== cancellation\n");
  for (int mode = 0; mode < 3; ++mode) {
    sem_init(&s, 0, mode == 0 ? 0 : 1);
    cancel_stage = 0;
    pthread_t t;
    pthread_create(&t, NULL, wait_to_be_cancelled, (void*)(intptr_t)mode);
    while (__atomic_load_n(&cancel_stage, __ATOMIC_ACQUIRE) == 0) sleep_ms(1);
    sleep_ms(20);
    SHOW(pthread_cancel(t));
    __atomic_store_n(&cancel_stage, 2, __ATOMIC_RELEASE);
    void* result;
    pthread_join(t, &result);
    printf("mode %d: cancelled %s\n", mode, result == PTHREAD_CANCELED ? "yes" : "no");
    show_value("after the cancel", &s);
    // The semaphore still works for the next waiter.
    SHOW_ERRNO(sem_post(&s));
    SHOW_ERRNO(sem_wait(&s));
    sem_destroy(&s);
  }
}

// --- semaphores libc keeps ----------------------------------------------------------

static void libc_semaphores(void) {
  printf("== process-shared and named\n");
  sem_t shared;
  SHOW_ERRNO(sem_init(&shared, 1, 2));
  SHOW_ERRNO(sem_wait(&shared));
  SHOW_ERRNO(sem_trywait(&shared));
  SHOW_ERRNO(sem_trywait(&shared));
  struct timespec past = ts_past(CLOCK_REALTIME);
  SHOW_ERRNO(sem_timedwait(&shared, &past));
  SHOW_ERRNO(sem_post(&shared));
  show_value("process-shared", &shared);
  SHOW_ERRNO(sem_destroy(&shared));

  char name[64];
  snprintf(name, sizeof name, "/greenhub-sync-test-%d", (int)getpid());
  sem_t* named = sem_open(name, O_CREAT | O_EXCL, 0600, 1);
  printf("sem_open: %s\n", named == SEM_FAILED ? "failed" : "ok");
  if (named == SEM_FAILED) return;
  SHOW_ERRNO(sem_unlink(name));  // the open handle stays usable
  struct timespec past_mono = ts_past(CLOCK_MONOTONIC);
  SHOW_ERRNO(sem_wait(named));
  SHOW_ERRNO(sem_trywait(named));
  SHOW_ERRNO(sem_clockwait(named, CLOCK_MONOTONIC, &past_mono));
  SHOW_ERRNO(sem_post(named));
  show_value("named", named);
  SHOW_ERRNO(sem_close(named));
}

// Waits on process-shared semaphores, posted by another thread (under the
// preload, of the same hub: a wait that blocked the OS thread would never
// see the post) and by another process.
static sem_t* shared_sem;
static void* post_shared_after_30ms(void* arg) {
  (void)arg;
  struct timespec pause = {0, 30 * 1000 * 1000};
  nanosleep(&pause, NULL);
  sem_post(shared_sem);
  return NULL;
}

static void shared_waits(void) {
  printf("== waiting on process-shared semaphores\n");
  shared_sem = mmap(NULL, sizeof(sem_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  SHOW_ERRNO(sem_init(shared_sem, 1, 0));
  pthread_t t;
  pthread_create(&t, NULL, post_shared_after_30ms, NULL);
  SHOW_ERRNO(sem_wait(shared_sem));
  pthread_join(t, NULL);
  pthread_create(&t, NULL, post_shared_after_30ms, NULL);
  struct timespec in_5s = ts_after_ms(CLOCK_REALTIME, 5000);
  SHOW_ERRNO(sem_timedwait(shared_sem, &in_5s));
  pthread_join(t, NULL);
  struct timespec in_50ms = ts_after_ms(CLOCK_MONOTONIC, 50);
  SHOW_ERRNO(sem_clockwait(shared_sem, CLOCK_MONOTONIC, &in_50ms));
  pid_t child = fork();
  if (child == 0) {
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL);
    sem_post(shared_sem);
    _exit(0);
  }
  SHOW_ERRNO(sem_wait(shared_sem));
  int status = 0;
  waitpid(child, &status, 0);
  printf("posted by another process, child exit %d\n", WEXITSTATUS(status));
  SHOW_ERRNO(sem_destroy(shared_sem));
  munmap(shared_sem, sizeof(sem_t));
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  limits_and_errors();
  producers_consumers();
  cancellation();
  libc_semaphores();
  shared_waits();
  return 0;
}
