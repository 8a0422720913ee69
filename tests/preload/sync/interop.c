// Green and real threads on the same objects. A timer with SIGEV_THREAD
// runs its callback on a thread libc creates itself (never a green thread:
// the preload does not see that pthread_create), so under the preload the
// callback is a real thread blocking on futexes while main() and green
// threads park on their hubs; each must wake the other through the same
// mutex, condvar, semaphore, rwlock and barrier.
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>

#include "sync_fixture.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t barrier;
static sem_t to_main, to_callback;
static int stage;
static long callback_waited_ms[4];

static void callback(union sigval value) {
  (void)value;
  struct timespec start;
  // 1. A mutex main holds: the real thread blocks until main unlocks it.
  clock_gettime(CLOCK_MONOTONIC, &start);
  sem_post(&to_main);
  pthread_mutex_lock(&m);
  callback_waited_ms[0] = elapsed_ms_since(&start);
  pthread_mutex_unlock(&m);
  // 2. A condvar main signals.
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_mutex_lock(&m);
  stage = 1;
  sem_post(&to_main);
  while (stage != 2) pthread_cond_wait(&c, &m);
  pthread_mutex_unlock(&m);
  callback_waited_ms[1] = elapsed_ms_since(&start);
  // 3. A semaphore main posts after a while.
  clock_gettime(CLOCK_MONOTONIC, &start);
  sem_post(&to_main);
  sem_wait(&to_callback);
  callback_waited_ms[2] = elapsed_ms_since(&start);
  // 4. A write lock main's reader holds, then a barrier with a green thread.
  clock_gettime(CLOCK_MONOTONIC, &start);
  sem_post(&to_main);
  pthread_rwlock_wrlock(&rw);
  callback_waited_ms[3] = elapsed_ms_since(&start);
  pthread_rwlock_unlock(&rw);
  pthread_barrier_wait(&barrier);
  sem_post(&to_main);
}

static void* green_party(void* arg) {
  (void)arg;
  return (void*)(intptr_t)pthread_barrier_wait(&barrier);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sem_init(&to_main, 0, 0);
  sem_init(&to_callback, 0, 0);
  pthread_barrier_init(&barrier, NULL, 2);
  struct sigevent sev = {0};
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = callback;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
    perror("timer_create");
    return 1;
  }
  pthread_mutex_lock(&m);
  struct itimerspec its = {{0, 0}, {0, 1000000}};
  timer_settime(timer, 0, &its, NULL);

  sem_wait(&to_main);  // 1
  sleep_ms(40);
  pthread_mutex_unlock(&m);

  sem_wait(&to_main);  // 2
  sleep_ms(40);
  pthread_mutex_lock(&m);
  stage = 2;
  pthread_cond_signal(&c);
  pthread_mutex_unlock(&m);

  sem_wait(&to_main);  // 3
  pthread_rwlock_rdlock(&rw);  // held before the callback asks for the write lock
  sleep_ms(40);
  sem_post(&to_callback);

  sem_wait(&to_main);  // 4
  sleep_ms(40);
  pthread_rwlock_unlock(&rw);
  pthread_t t;
  pthread_create(&t, NULL, green_party, NULL);
  sem_wait(&to_main);
  void* r;
  pthread_join(t, &r);

  for (int i = 0; i < 4; ++i) {
    printf("callback step %d blocked until main released it: %s\n", i + 1,
           callback_waited_ms[i] >= 35 && callback_waited_ms[i] < 5000 ? "yes" : "no");
  }
  printf("barrier with a green thread: %s\n", r == (void*)(intptr_t)PTHREAD_BARRIER_SERIAL_THREAD || r == NULL ? "passed" : "failed");
  timer_delete(timer);
  return 0;
}
