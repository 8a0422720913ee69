// pthread_cond_*: signal, broadcast, wait, timedwait (the condattr clock),
// clockwait, bad input, errorcheck mutexes, destroy right after a broadcast,
// cancellation inside a wait (the mutex is held by the cleanup handlers),
// and condvars libc keeps (process-shared).
#include <stdlib.h>

#include "sync_fixture.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;

static void timeouts(void) {
  printf("== timeouts and bad input\n");
  struct timespec past = ts_past(CLOCK_REALTIME);
  struct timespec past_mono = ts_past(CLOCK_MONOTONIC);
  struct timespec neg = {-1, 0};
  struct timespec bad = {0, 1000000000L};
  struct timespec bad_neg = {-1, -1};
  pthread_mutex_lock(&m);
  SHOW(pthread_cond_timedwait(&c, &m, &past));
  SHOW(pthread_cond_timedwait(&c, &m, &neg));
  SHOW(pthread_cond_timedwait(&c, &m, &bad));
  SHOW(pthread_cond_timedwait(&c, &m, &bad_neg));
  SHOW(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &past_mono));
  SHOW(pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &past));
  SHOW(pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &neg));
  SHOW(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &bad));
  SHOW(pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &past));
  SHOW(pthread_cond_clockwait(&c, &m, CLOCK_BOOTTIME, &past));
  SHOW(pthread_cond_clockwait(&c, &m, 12345, &bad));
  // The mutex is held again after each of them.
  SHOW(pthread_mutex_trylock(&m));
  pthread_mutex_unlock(&m);
  SHOW(pthread_cond_signal(&c));
  SHOW(pthread_cond_broadcast(&c));

  // Real timeouts on each clock, with the condattr clock honoured: a
  // monotonic deadline read as a wall-clock time would be long past.
  for (int i = 0; i < 4; ++i) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    clockid_t clock = (i % 2) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    pthread_condattr_setclock(&attr, clock);
    pthread_cond_t timed;
    pthread_cond_init(&timed, &attr);
    pthread_condattr_destroy(&attr);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct timespec deadline = ts_after_ms(clock, 30);
    pthread_mutex_lock(&m);
    int rc = i < 2 ? pthread_cond_timedwait(&timed, &m, &deadline)
                   : pthread_cond_clockwait(&timed, &m, clock, &deadline);
    pthread_mutex_unlock(&m);
    long ms = elapsed_ms_since(&start);
    printf("%s on %s clock: %s, waited the 30 ms: %s\n", i < 2 ? "timedwait" : "clockwait",
           clock == CLOCK_MONOTONIC ? "monotonic" : "realtime", err_name(rc), ms >= 29 ? "yes" : "no");
    SHOW(pthread_cond_destroy(&timed));
  }
}

static void errorcheck(void) {
  printf("== errorcheck mutex not held\n");
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_t em;
  pthread_mutex_init(&em, &attr);
  struct timespec past = ts_past(CLOCK_REALTIME);
  SHOW(pthread_cond_wait(&c, &em));
  SHOW(pthread_cond_timedwait(&c, &em, &past));
  SHOW(pthread_mutex_lock(&em));
  SHOW(pthread_cond_timedwait(&c, &em, &past));
  SHOW(pthread_mutex_unlock(&em));
  SHOW(pthread_mutex_destroy(&em));

  // A recursive mutex locked once works with a condvar.
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&em, &attr);
  pthread_mutexattr_destroy(&attr);
  SHOW(pthread_mutex_lock(&em));
  SHOW(pthread_cond_timedwait(&c, &em, &past));
  SHOW(pthread_mutex_unlock(&em));
  SHOW(pthread_mutex_unlock(&em));
  // While a thread waits, its mutex counts it as a user: destroy says EBUSY.
}

// --- producers and consumers ----------------------------------------------

enum { kProducers = 4, kConsumers = 4, kItems = 2000, kCapacity = 8 };
static int queue[kCapacity];
static int head, count;
static long consumed_sum;
static int consumed;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;

static void* producer(void* arg) {
  int base = (int)(intptr_t)arg * kItems;
  for (int i = 0; i < kItems; ++i) {
    pthread_mutex_lock(&m);
    while (count == kCapacity) pthread_cond_wait(&not_full, &m);
    queue[(head + count) % kCapacity] = base + i;
    ++count;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&m);
  }
  return NULL;
}

static void* consumer(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&m);
    while (count == 0 && consumed < kProducers * kItems) {
      struct timespec soon = ts_after_ms(CLOCK_REALTIME, 5);
      pthread_cond_timedwait(&not_empty, &m, &soon);  // timeouts just re-check
    }
    if (count == 0) {
      pthread_mutex_unlock(&m);
      return NULL;
    }
    consumed_sum += queue[head];
    head = (head + 1) % kCapacity;
    --count;
    if (++consumed == kProducers * kItems) pthread_cond_broadcast(&not_empty);
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&m);
  }
}

static void producers_consumers(void) {
  printf("== producers and consumers\n");
  pthread_t p[kProducers], q[kConsumers];
  for (int i = 0; i < kConsumers; ++i) pthread_create(&q[i], NULL, consumer, NULL);
  for (int i = 0; i < kProducers; ++i) pthread_create(&p[i], NULL, producer, (void*)(intptr_t)i);
  for (int i = 0; i < kProducers; ++i) pthread_join(p[i], NULL);
  for (int i = 0; i < kConsumers; ++i) pthread_join(q[i], NULL);
  long n = (long)kProducers * kItems;
  printf("consumed %d items, sum %ld (expected %ld)\n", consumed, consumed_sum, n * (n - 1) / 2);
}

// --- signal and broadcast -------------------------------------------------------

enum { kWaiters = 10 };
static int tokens, woken, go;
static pthread_cond_t token_cond = PTHREAD_COND_INITIALIZER;

static void* take_token(void* arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  ++woken;  // counts arrivals here
  while (tokens == 0) pthread_cond_wait(&token_cond, &m);
  --tokens;
  pthread_mutex_unlock(&m);
  return NULL;
}

static void* wait_for_go(void* arg) {
  pthread_cond_t* cond = arg;
  pthread_mutex_lock(&m);
  ++woken;
  while (!go) pthread_cond_wait(cond, &m);
  pthread_mutex_unlock(&m);
  return NULL;
}

static void wait_until_arrived(int n) {
  for (;;) {
    pthread_mutex_lock(&m);
    int arrived = woken;
    pthread_mutex_unlock(&m);
    if (arrived >= n) break;
    sleep_ms(1);
  }
  sleep_ms(20);  // let the last arrivals block in their wait
}

static void signal_and_broadcast(void) {
  printf("== signal and broadcast\n");
  pthread_t t[kWaiters];
  woken = 0;
  for (int i = 0; i < kWaiters; ++i) pthread_create(&t[i], NULL, take_token, NULL);
  wait_until_arrived(kWaiters);
  for (int i = 0; i < kWaiters; ++i) {
    pthread_mutex_lock(&m);
    ++tokens;
    pthread_cond_signal(&token_cond);
    pthread_mutex_unlock(&m);
  }
  for (int i = 0; i < kWaiters; ++i) pthread_join(t[i], NULL);
  printf("%d signals released %d waiters, tokens left %d\n", kWaiters, kWaiters, tokens);

  // Broadcast, then destroy the condvar at once: destroy waits for the woken
  // waiters to leave it, even while the mutex they need is held.
  pthread_cond_t* cond = malloc(sizeof *cond);
  pthread_cond_init(cond, NULL);
  woken = 0;
  go = 0;
  for (int i = 0; i < kWaiters; ++i) pthread_create(&t[i], NULL, wait_for_go, cond);
  wait_until_arrived(kWaiters);
  pthread_mutex_lock(&m);
  go = 1;
  SHOW(pthread_cond_broadcast(cond));
  SHOW(pthread_cond_destroy(cond));
  free(cond);
  pthread_mutex_unlock(&m);
  for (int i = 0; i < kWaiters; ++i) pthread_join(t[i], NULL);
  printf("broadcast released all %d waiters\n", kWaiters);
}

// --- destroy of a mutex a waiter still counts ---------------------------------

static pthread_mutex_t counted = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t counted_cond = PTHREAD_COND_INITIALIZER;
static int counted_ready;

static void* wait_on_counted(void* arg) {
  (void)arg;
  pthread_mutex_lock(&counted);
  counted_ready = 1;
  while (counted_ready != 2) pthread_cond_wait(&counted_cond, &counted);
  pthread_mutex_unlock(&counted);
  return NULL;
}

static void mutex_users_while_waiting(void) {
  printf("== a waiting thread keeps its mutex busy\n");
  pthread_t t;
  pthread_create(&t, NULL, wait_on_counted, NULL);
  for (;;) {
    pthread_mutex_lock(&counted);
    int ready = counted_ready;
    pthread_mutex_unlock(&counted);
    if (ready) break;
    sleep_ms(1);
  }
  sleep_ms(10);
  printf("destroy mutex during the wait -> %s\n", err_name(pthread_mutex_destroy(&counted)));
  pthread_mutex_lock(&counted);
  counted_ready = 2;
  pthread_cond_signal(&counted_cond);
  pthread_mutex_unlock(&counted);
  pthread_join(t, NULL);
  SHOW(pthread_mutex_destroy(&counted));
}

// --- cancellation -------------------------------------------------------------------

static pthread_mutex_t cancel_mutex;
static pthread_cond_t cancel_cond = PTHREAD_COND_INITIALIZER;
static int cleanup_saw_mutex_held = -1;
static int cancel_ready;

static void unlock_in_cleanup(void* arg) {
  (void)arg;
  // An errorcheck unlock succeeds only for the owner.
  cleanup_saw_mutex_held = pthread_mutex_unlock(&cancel_mutex) == 0;
}

static void* wait_to_be_cancelled(void* arg) {
  int pending_first = (int)(intptr_t)arg;
  if (pending_first) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  pthread_mutex_lock(&cancel_mutex);
  cancel_ready = 1;
  if (pending_first) {
    // Wait (not in a cancellation point) until the cancel is pending.
    pthread_mutex_unlock(&cancel_mutex);
    while (__atomic_load_n(&cancel_ready, __ATOMIC_ACQUIRE) != 2) sleep_ms(1);
    pthread_mutex_lock(&cancel_mutex);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
  }
  pthread_cleanup_push(unlock_in_cleanup, NULL);
  for (;;) pthread_cond_wait(&cancel_cond, &cancel_mutex);
  pthread_cleanup_pop(0);
  return NULL;
}

static void cancellation(void) {
  printf("== cancellation\n");
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&cancel_mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  for (int pending_first = 0; pending_first < 2; ++pending_first) {
    cancel_ready = 0;
    cleanup_saw_mutex_held = -1;
    pthread_t t;
    pthread_create(&t, NULL, wait_to_be_cancelled, (void*)(intptr_t)pending_first);
    while (__atomic_load_n(&cancel_ready, __ATOMIC_ACQUIRE) == 0) sleep_ms(1);
    sleep_ms(20);
    SHOW(pthread_cancel(t));
    if (pending_first) __atomic_store_n(&cancel_ready, 2, __ATOMIC_RELEASE);
    void* result;
    pthread_join(t, &result);
    printf("%s: cancelled %s, cleanup ran with the mutex held: %d\n",
           pending_first ? "pending before the wait" : "while waiting",
           result == PTHREAD_CANCELED ? "yes" : "no", cleanup_saw_mutex_held);
    SHOW(pthread_mutex_trylock(&cancel_mutex));
    SHOW(pthread_mutex_unlock(&cancel_mutex));
  }
}

// --- condvars and mutexes that libc keeps ---------------------------------------

static void libc_kinds(void) {
  printf("== process-shared condvar, robust mutex\n");
  pthread_condattr_t cattr;
  pthread_condattr_init(&cattr);
  pthread_condattr_setpshared(&cattr, PTHREAD_PROCESS_SHARED);
  pthread_cond_t shared;
  SHOW(pthread_cond_init(&shared, &cattr));
  pthread_mutexattr_t mattr;
  pthread_mutexattr_init(&mattr);
  pthread_mutexattr_setpshared(&mattr, PTHREAD_PROCESS_SHARED);
  pthread_mutex_t shared_mutex;
  pthread_mutex_init(&shared_mutex, &mattr);
  struct timespec past = ts_past(CLOCK_REALTIME);
  pthread_mutex_lock(&shared_mutex);
  SHOW(pthread_cond_timedwait(&shared, &shared_mutex, &past));
  SHOW(pthread_cond_signal(&shared));
  SHOW(pthread_cond_broadcast(&shared));
  pthread_mutex_unlock(&shared_mutex);
  SHOW(pthread_cond_destroy(&shared));

  pthread_mutexattr_init(&mattr);
  pthread_mutexattr_setrobust(&mattr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t robust;
  pthread_mutex_init(&robust, &mattr);
  pthread_mutex_lock(&robust);
  struct timespec soon = ts_after_ms(CLOCK_REALTIME, 10);
  SHOW(pthread_cond_timedwait(&c, &robust, &soon));
  SHOW(pthread_mutex_unlock(&robust));
  pthread_mutexattr_destroy(&mattr);
  pthread_condattr_destroy(&cattr);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  timeouts();
  errorcheck();
  producers_consumers();
  signal_and_broadcast();
  mutex_users_while_waiting();
  cancellation();
  libc_kinds();
  SHOW(pthread_cond_destroy(&c));
  return 0;
}
