// The names binaries built against older glibc still import, bound here the
// way such a binary binds them: pthread_cond_*@GLIBC_2.2.5 (the pre-2.3.2
// condvar ABI), __pthread_mutex_*, __pthread_rwlock_*, __pthread_once.
//
// Each is exercised with a thread that blocks while another one must run to
// release it. Under the preload with GREENHUB_HUBS=1 both are green threads
// of one OS thread, so the fixture only finishes if every one of these
// names waits greenly (libc's would block that OS thread for good).
#include "sync_fixture.h"

#define COMPAT(ret, local, name, args) \
  extern ret local args;               \
  __asm__(".symver " #local "," #name "@GLIBC_2.2.5")

COMPAT(int, old_cond_init, pthread_cond_init, (pthread_cond_t*, const pthread_condattr_t*));
COMPAT(int, old_cond_destroy, pthread_cond_destroy, (pthread_cond_t*));
COMPAT(int, old_cond_wait, pthread_cond_wait, (pthread_cond_t*, pthread_mutex_t*));
COMPAT(int, old_cond_timedwait, pthread_cond_timedwait,
       (pthread_cond_t*, pthread_mutex_t*, const struct timespec*));
COMPAT(int, old_cond_signal, pthread_cond_signal, (pthread_cond_t*));
COMPAT(int, old_cond_broadcast, pthread_cond_broadcast, (pthread_cond_t*));
COMPAT(int, compat_mutex_init, __pthread_mutex_init, (pthread_mutex_t*, const pthread_mutexattr_t*));
COMPAT(int, compat_mutex_destroy, __pthread_mutex_destroy, (pthread_mutex_t*));
COMPAT(int, compat_mutex_lock, __pthread_mutex_lock, (pthread_mutex_t*));
COMPAT(int, compat_mutex_trylock, __pthread_mutex_trylock, (pthread_mutex_t*));
COMPAT(int, compat_mutex_unlock, __pthread_mutex_unlock, (pthread_mutex_t*));
COMPAT(int, compat_rwlock_init, __pthread_rwlock_init, (pthread_rwlock_t*, const pthread_rwlockattr_t*));
COMPAT(int, compat_rwlock_destroy, __pthread_rwlock_destroy, (pthread_rwlock_t*));
COMPAT(int, compat_rwlock_rdlock, __pthread_rwlock_rdlock, (pthread_rwlock_t*));
COMPAT(int, compat_rwlock_wrlock, __pthread_rwlock_wrlock, (pthread_rwlock_t*));
COMPAT(int, compat_rwlock_tryrdlock, __pthread_rwlock_tryrdlock, (pthread_rwlock_t*));
COMPAT(int, compat_rwlock_trywrlock, __pthread_rwlock_trywrlock, (pthread_rwlock_t*));
COMPAT(int, compat_rwlock_unlock, __pthread_rwlock_unlock, (pthread_rwlock_t*));
COMPAT(int, compat_once, __pthread_once, (pthread_once_t*, void (*)(void)));

// --- old condvars: a ping-pong between main and a thread ---------------------

enum { kRounds = 200 };
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c;
static int turn;

static void* pong(void* arg) {
  (void)arg;
  for (int i = 0; i < kRounds; ++i) {
    compat_mutex_lock(&m);
    while (turn != 1) old_cond_wait(&c, &m);
    turn = 0;
    old_cond_signal(&c);
    compat_mutex_unlock(&m);
  }
  return NULL;
}

static void old_condvars(void) {
  printf("== pthread_cond_*@GLIBC_2.2.5\n");
  SHOW(old_cond_init(&c, NULL));
  pthread_t t;
  pthread_create(&t, NULL, pong, NULL);
  for (int i = 0; i < kRounds; ++i) {
    compat_mutex_lock(&m);
    turn = 1;
    old_cond_broadcast(&c);
    while (turn != 0) old_cond_wait(&c, &m);
    compat_mutex_unlock(&m);
  }
  pthread_join(t, NULL);
  printf("%d round trips\n", kRounds);
  struct timespec past = ts_past(CLOCK_REALTIME);
  compat_mutex_lock(&m);
  SHOW(old_cond_timedwait(&c, &m, &past));
  compat_mutex_unlock(&m);
  SHOW(old_cond_destroy(&c));
}

// --- __pthread_mutex_*: a thread blocks on a mutex main holds ---------------

static pthread_mutex_t held;
static int reached;

static void* lock_held(void* arg) {
  (void)arg;
  __atomic_store_n(&reached, 1, __ATOMIC_RELEASE);
  int rc = compat_mutex_lock(&held);
  compat_mutex_unlock(&held);
  return (void*)(intptr_t)rc;
}

static void compat_mutexes(void) {
  printf("== __pthread_mutex_*\n");
  SHOW(compat_mutex_init(&held, NULL));
  SHOW(compat_mutex_lock(&held));
  SHOW(compat_mutex_trylock(&held));
  pthread_t t;
  pthread_create(&t, NULL, lock_held, NULL);
  while (!__atomic_load_n(&reached, __ATOMIC_ACQUIRE)) sleep_ms(1);
  sleep_ms(20);
  SHOW(compat_mutex_destroy(&held));
  SHOW(compat_mutex_unlock(&held));
  void* r;
  pthread_join(t, &r);
  printf("the blocked thread got the mutex: rc %d\n", (int)(intptr_t)r);
  SHOW(compat_mutex_destroy(&held));
}

// --- __pthread_rwlock_* ----------------------------------------------------------

static pthread_rwlock_t rw;

static void* write_lock(void* arg) {
  (void)arg;
  __atomic_store_n(&reached, 2, __ATOMIC_RELEASE);
  int rc = compat_rwlock_wrlock(&rw);
  compat_rwlock_unlock(&rw);
  return (void*)(intptr_t)rc;
}

static void compat_rwlocks(void) {
  printf("== __pthread_rwlock_*\n");
  SHOW(compat_rwlock_init(&rw, NULL));
  SHOW(compat_rwlock_rdlock(&rw));
  SHOW(compat_rwlock_tryrdlock(&rw));
  SHOW(compat_rwlock_trywrlock(&rw));
  pthread_t t;
  pthread_create(&t, NULL, write_lock, NULL);
  while (__atomic_load_n(&reached, __ATOMIC_ACQUIRE) != 2) sleep_ms(1);
  sleep_ms(20);
  SHOW(compat_rwlock_unlock(&rw));
  SHOW(compat_rwlock_unlock(&rw));
  void* r;
  pthread_join(t, &r);
  printf("the blocked writer got the lock: rc %d\n", (int)(intptr_t)r);
  SHOW(compat_rwlock_wrlock(&rw));
  SHOW(compat_rwlock_rdlock(&rw));
  SHOW(compat_rwlock_unlock(&rw));
  SHOW(compat_rwlock_destroy(&rw));
}

// --- __pthread_once: a second caller waits for a slow routine ---------------

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static void slow_routine(void) {
  sleep_ms(30);
  ++once_runs;
}
static void* call_once_compat(void* arg) {
  (void)arg;
  return (void*)(intptr_t)compat_once(&once, slow_routine);
}

static void compat_once_test(void) {
  printf("== __pthread_once\n");
  pthread_t t;
  pthread_create(&t, NULL, call_once_compat, NULL);
  sleep_ms(5);
  SHOW(compat_once(&once, slow_routine));
  void* r;
  pthread_join(t, &r);
  printf("routine ran %d time(s), thread rc %d\n", once_runs, (int)(intptr_t)r);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  old_condvars();
  compat_mutexes();
  compat_rwlocks();
  compat_once_test();
  return 0;
}
