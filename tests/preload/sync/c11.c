// C11 <threads.h> synchronization (glibc reaches its pthread code through
// internal calls, so each name is interposed on its own): mtx_* of every
// type, cnd_* with timeouts, tss_* with destructors, call_once.
#include <threads.h>

#include "sync_fixture.h"

static const char* thrd_name(int rc) {
  switch (rc) {
    case thrd_success: return "thrd_success";
    case thrd_busy: return "thrd_busy";
    case thrd_error: return "thrd_error";
    case thrd_nomem: return "thrd_nomem";
    case thrd_timedout: return "thrd_timedout";
    default: return "other";
  }
}
#define SHOW_THRD(expr) printf("%-52s -> %s\n", #expr, thrd_name(expr))

static mtx_t mtx;
static cnd_t cnd;

static int try_from_thread(void* arg) {
  (void)arg;
  int rc = mtx_trylock(&mtx);
  if (rc == thrd_success) mtx_unlock(&mtx);
  return rc;
}
static int timed_from_thread(void* arg) {
  (void)arg;
  struct timespec past = ts_past(CLOCK_REALTIME);
  return mtx_timedlock(&mtx, &past);
}
static int run(thrd_start_t fn) {
  thrd_t t;
  int result = -1;
  thrd_create(&t, fn, NULL);
  thrd_join(t, &result);
  return result;
}

static void mutexes(void) {
  printf("== mtx\n");
  int types[] = {mtx_plain, mtx_timed, mtx_plain | mtx_recursive, mtx_timed | mtx_recursive};
  const char* names[] = {"plain", "timed", "plain|recursive", "timed|recursive"};
  for (int i = 0; i < 4; ++i) {
    printf("-- %s\n", names[i]);
    SHOW_THRD(mtx_init(&mtx, types[i]));
    SHOW_THRD(mtx_lock(&mtx));
    SHOW_THRD(mtx_trylock(&mtx));
    printf("trylock from another thread -> %s\n", thrd_name(run(try_from_thread)));
    printf("timedlock past from another thread -> %s\n", thrd_name(run(timed_from_thread)));
    SHOW_THRD(mtx_unlock(&mtx));
    if (types[i] & mtx_recursive) SHOW_THRD(mtx_unlock(&mtx));
    struct timespec soon = ts_after_ms(CLOCK_REALTIME, 1000);
    SHOW_THRD(mtx_timedlock(&mtx, &soon));
    SHOW_THRD(mtx_unlock(&mtx));
    mtx_destroy(&mtx);
  }
}

static int flag;
static int waiter(void* arg) {
  (void)arg;
  mtx_lock(&mtx);
  while (!flag) cnd_wait(&cnd, &mtx);
  mtx_unlock(&mtx);
  return 7;
}

static void condvars(void) {
  printf("== cnd\n");
  SHOW_THRD(mtx_init(&mtx, mtx_plain));
  SHOW_THRD(cnd_init(&cnd));
  struct timespec past = ts_past(CLOCK_REALTIME);
  struct timespec bad = {0, 1000000000L};
  mtx_lock(&mtx);
  SHOW_THRD(cnd_timedwait(&cnd, &mtx, &past));
  SHOW_THRD(cnd_timedwait(&cnd, &mtx, &bad));
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  struct timespec soon = ts_after_ms(CLOCK_REALTIME, 30);
  int rc = cnd_timedwait(&cnd, &mtx, &soon);
  printf("cnd_timedwait 30 ms -> %s, waited: %s\n", thrd_name(rc), elapsed_ms_since(&start) >= 29 ? "yes" : "no");
  mtx_unlock(&mtx);
  SHOW_THRD(cnd_signal(&cnd));
  SHOW_THRD(cnd_broadcast(&cnd));
  thrd_t t[4];
  for (int i = 0; i < 4; ++i) thrd_create(&t[i], waiter, NULL);
  sleep_ms(30);
  mtx_lock(&mtx);
  flag = 1;
  SHOW_THRD(cnd_broadcast(&cnd));
  mtx_unlock(&mtx);
  int sum = 0;
  for (int i = 0; i < 4; ++i) {
    int r = 0;
    thrd_join(t[i], &r);
    sum += r;
  }
  printf("waiters returned %d\n", sum);
  cnd_destroy(&cnd);
  mtx_destroy(&mtx);
}

static tss_t key;
static int destructor_calls;
static void tss_destructor(void* value) {
  __atomic_add_fetch(&destructor_calls, (int)(intptr_t)value, __ATOMIC_SEQ_CST);
}
static int tss_worker(void* arg) {
  int id = (int)(intptr_t)arg;
  if (tss_get(key) != NULL) return -1;
  tss_set(key, (void*)(intptr_t)(id + 1));
  thrd_yield();
  sleep_ms(5);
  return tss_get(key) == (void*)(intptr_t)(id + 1) ? 1 : 0;
}

static void thread_specific(void) {
  printf("== tss\n");
  SHOW_THRD(tss_create(&key, tss_destructor));
  SHOW_THRD(tss_set(key, (void*)(intptr_t)100));
  printf("tss_get in main -> %ld\n", (long)(intptr_t)tss_get(key));
  thrd_t t[6];
  for (int i = 0; i < 6; ++i) thrd_create(&t[i], tss_worker, (void*)(intptr_t)i);
  int own = 0;
  for (int i = 0; i < 6; ++i) {
    int r = 0;
    thrd_join(t[i], &r);
    own += r;
  }
  printf("threads that kept their own value: %d; destructor sum %d (expected 21)\n", own, destructor_calls);
  printf("tss_get in main after -> %ld\n", (long)(intptr_t)tss_get(key));
  tss_delete(key);
  printf("tss_set after delete -> %s\n", thrd_name(tss_set(key, (void*)1)));
}

static once_flag once = ONCE_FLAG_INIT;
static int once_runs;
static void once_routine(void) {
  sleep_ms(20);
  __atomic_add_fetch(&once_runs, 1, __ATOMIC_SEQ_CST);
}
static int once_worker(void* arg) {
  (void)arg;
  call_once(&once, once_routine);
  return __atomic_load_n(&once_runs, __ATOMIC_SEQ_CST);
}

static void call_once_test(void) {
  printf("== call_once\n");
  thrd_t t[6];
  for (int i = 0; i < 6; ++i) thrd_create(&t[i], once_worker, NULL);
  int saw = 0;
  for (int i = 0; i < 6; ++i) {
    int r = 0;
    thrd_join(t[i], &r);
    saw += r;
  }
  printf("routine ran %d time(s); every caller returned after it: %s\n", once_runs, saw == 6 ? "yes" : "no");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  mutexes();
  condvars();
  thread_specific();
  call_once_test();
  return 0;
}
