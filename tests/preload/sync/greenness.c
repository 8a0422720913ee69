// Greenness, proven structurally: 5,000 threads blocked at the same time,
// a quarter each in sleep, pthread_cond_wait, sem_wait and
// pthread_mutex_lock. Under the preload the process must meanwhile have at
// most GREENHUB_HUBS + kRuntimeThreads OS threads (checked from
// /proc/self/task, see os_threads.h); natively it has 5,001. Then all of
// them are released and must finish.
//
// The sleepers sleep 3 s from when they start; the count is taken once all
// 5,000 have arrived, and the fixture checks (under the preload) that no
// sleeper had woken by then, so that the count covers all four kinds at once.
#include <semaphore.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "os_threads.h"
#include "sync_fixture.h"

enum { kThreads = 5000, kKinds = 4, kSleepMs = 3000 };

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;  // held by main
static pthread_mutex_t cond_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static int released;
static int arrived[kKinds];
static int finished[kKinds];
static int sleepers_woken;

static void* blocked_thread(void* arg) {
  int kind = (int)(intptr_t)arg % kKinds;
  __atomic_add_fetch(&arrived[kind], 1, __ATOMIC_SEQ_CST);
  switch (kind) {
    case 0:
      sleep_ms(kSleepMs);
      __atomic_add_fetch(&sleepers_woken, 1, __ATOMIC_SEQ_CST);
      break;
    case 1:
      pthread_mutex_lock(&cond_mutex);
      while (!released) pthread_cond_wait(&cond, &cond_mutex);
      pthread_mutex_unlock(&cond_mutex);
      break;
    case 2:
      while (sem_wait(&sem) != 0) {
      }
      break;
    case 3:
      pthread_mutex_lock(&gate);
      pthread_mutex_unlock(&gate);
      break;
  }
  __atomic_add_fetch(&finished[kind], 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static int total(const int* counts) {
  int n = 0;
  for (int k = 0; k < kKinds; ++k) n += __atomic_load_n(&counts[k], __ATOMIC_SEQ_CST);
  return n;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  sem_init(&sem, 0, 0);
  pthread_mutex_lock(&gate);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t* threads = calloc(kThreads, sizeof *threads);
  for (int i = 0; i < kThreads; ++i) {
    int rc = pthread_create(&threads[i], &attr, blocked_thread, (void*)(intptr_t)i);
    if (rc != 0) {
      printf("pthread_create %d failed: %s\n", i, strerror(rc));
      return 1;
    }
  }
  pthread_attr_destroy(&attr);
  while (total(arrived) < kThreads) sleep_ms(2);
  sleep_ms(100);  // the last arrivals reach their blocking call
  int failed = check_os_threads("all blocked", kThreads);
  if (preload_os_thread_bound() != 0 && __atomic_load_n(&sleepers_woken, __ATOMIC_SEQ_CST) != 0) {
    fprintf(stderr, "FAILED: sleepers woke before the count; it did not see all four kinds at once\n");
    failed = 1;
  }
  printf("blocked: sleep %d, cond_wait %d, sem_wait %d, mutex_lock %d\n", arrived[0], arrived[1],
         arrived[2], arrived[3]);

  pthread_mutex_lock(&cond_mutex);
  released = 1;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&cond_mutex);
  for (int i = 0; i < kThreads / kKinds; ++i) sem_post(&sem);
  pthread_mutex_unlock(&gate);
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  free(threads);
  printf("finished: sleep %d, cond_wait %d, sem_wait %d, mutex_lock %d; all %d: %s\n", finished[0],
         finished[1], finished[2], finished[3], kThreads, total(finished) == kThreads ? "yes" : "no");
  return failed;
}
