// pthread_spin_*, pthread_barrier_*, pthread_once: their results and error
// codes, spin locks held across a switch, barriers over several rounds
// (exactly one serial thread per round, destroy by the serial thread while
// the others leave), once under a race, and a once routine that is
// cancelled (another thread then runs it).
#include <stdlib.h>

#include "sync_fixture.h"

// --- spin ---------------------------------------------------------------------

enum { kSpinners = 6, kSpinRounds = 3000 };
static pthread_spinlock_t spin;
static long spin_counter;

static void* spin_worker(void* arg) {
  (void)arg;
  for (int i = 0; i < kSpinRounds; ++i) {
    if (i % 2) {
      pthread_spin_lock(&spin);
    } else {
      while (pthread_spin_trylock(&spin) == EBUSY) sched_yield();
    }
    long v = spin_counter;
    if (i % 200 == 0) sched_yield();  // held across a switch
    spin_counter = v + 1;
    pthread_spin_unlock(&spin);
  }
  return NULL;
}

static void spin_locks(void) {
  printf("== spin\n");
  SHOW(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE));
  SHOW(pthread_spin_lock(&spin));
  SHOW(pthread_spin_trylock(&spin));
  SHOW(pthread_spin_unlock(&spin));
  SHOW(pthread_spin_trylock(&spin));
  SHOW(pthread_spin_unlock(&spin));
  pthread_t t[kSpinners];
  for (int i = 0; i < kSpinners; ++i) pthread_create(&t[i], NULL, spin_worker, NULL);
  for (int i = 0; i < kSpinners; ++i) pthread_join(t[i], NULL);
  printf("counter %ld (expected %d)\n", spin_counter, kSpinners * kSpinRounds);
  SHOW(pthread_spin_destroy(&spin));
  SHOW(pthread_spin_init(&spin, PTHREAD_PROCESS_SHARED));
  SHOW(pthread_spin_lock(&spin));
  SHOW(pthread_spin_unlock(&spin));
  SHOW(pthread_spin_destroy(&spin));
}

// --- barrier --------------------------------------------------------------------

enum { kParties = 5, kRounds = 4 };
static pthread_barrier_t barrier;
static int serials[kRounds];
static int arrived[kRounds];
static int order_violations;

static void* barrier_worker(void* arg) {
  int delay = (int)(intptr_t)arg;
  for (int round = 0; round < kRounds; ++round) {
    sleep_ms(delay);
    __atomic_add_fetch(&arrived[round], 1, __ATOMIC_SEQ_CST);
    int rc = pthread_barrier_wait(&barrier);
    // Everyone of this round has arrived before anyone leaves it.
    if (__atomic_load_n(&arrived[round], __ATOMIC_SEQ_CST) != kParties) {
      __atomic_add_fetch(&order_violations, 1, __ATOMIC_SEQ_CST);
    }
    if (rc == PTHREAD_BARRIER_SERIAL_THREAD) __atomic_add_fetch(&serials[round], 1, __ATOMIC_SEQ_CST);
    else if (rc != 0) printf("unexpected barrier result %d\n", rc);
  }
  return NULL;
}

static pthread_barrier_t* heap_barrier;
static int heap_serial_destroyed;

static void* heap_barrier_worker(void* arg) {
  (void)arg;
  int rc = pthread_barrier_wait(heap_barrier);
  if (rc == PTHREAD_BARRIER_SERIAL_THREAD) {
    // The serial thread may destroy and free it while the others leave.
    heap_serial_destroyed = pthread_barrier_destroy(heap_barrier) == 0;
    free(heap_barrier);
  }
  return NULL;
}

static void barriers(void) {
  printf("== barrier\n");
  SHOW(pthread_barrier_init(&barrier, NULL, 0));
  SHOW(pthread_barrier_init(&barrier, NULL, kParties));
  pthread_t t[kParties];
  for (int i = 0; i < kParties; ++i) pthread_create(&t[i], NULL, barrier_worker, (void*)(intptr_t)(i * 3));
  for (int i = 0; i < kParties; ++i) pthread_join(t[i], NULL);
  for (int r = 0; r < kRounds; ++r) printf("round %d: serial threads %d\n", r, serials[r]);
  printf("threads released before the last arrival: %d\n", order_violations);
  SHOW(pthread_barrier_destroy(&barrier));

  // A barrier of one: every wait is the serial one.
  SHOW(pthread_barrier_init(&barrier, NULL, 1));
  printf("wait on a barrier of 1 -> %s\n",
         pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD ? "serial" : "not serial");
  SHOW(pthread_barrier_destroy(&barrier));

  for (int rep = 0; rep < 20; ++rep) {
    heap_barrier = malloc(sizeof *heap_barrier);
    pthread_barrier_init(heap_barrier, NULL, 4);
    pthread_t h[4];
    for (int i = 0; i < 4; ++i) pthread_create(&h[i], NULL, heap_barrier_worker, NULL);
    for (int i = 0; i < 4; ++i) pthread_join(h[i], NULL);
  }
  printf("serial thread destroyed and freed the barrier: %d\n", heap_serial_destroyed);

  pthread_barrierattr_t attr;
  pthread_barrierattr_init(&attr);
  SHOW(pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED));
  SHOW(pthread_barrier_init(&barrier, &attr, 1));
  printf("process-shared barrier of 1 -> %s\n",
         pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD ? "serial" : "not serial");
  SHOW(pthread_barrier_destroy(&barrier));
  pthread_barrierattr_destroy(&attr);
}

// --- once -------------------------------------------------------------------------

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_runs;
static int saw_initialized;

static void slow_init(void) {
  sleep_ms(30);  // the other threads wait for it
  __atomic_add_fetch(&init_runs, 1, __ATOMIC_SEQ_CST);
}

static void* call_once_worker(void* arg) {
  (void)arg;
  SHOW(pthread_once(&once, slow_init));
  if (__atomic_load_n(&init_runs, __ATOMIC_SEQ_CST) == 1) __atomic_add_fetch(&saw_initialized, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static pthread_once_t cancelled_once = PTHREAD_ONCE_INIT;
static int cancelled_init_calls;
static int cancel_in_init;

static void init_that_blocks(void) {
  if (__atomic_add_fetch(&cancelled_init_calls, 1, __ATOMIC_SEQ_CST) == 1) {
    __atomic_store_n(&cancel_in_init, 1, __ATOMIC_RELEASE);
    for (;;) {
      sleep_ms(5);
      pthread_testcancel();
    }
  }
}

static void* once_cancelled(void* arg) {
  (void)arg;
  pthread_once(&cancelled_once, init_that_blocks);
  return NULL;
}

static void* once_after_cancel(void* arg) {
  (void)arg;
  return (void*)(intptr_t)pthread_once(&cancelled_once, init_that_blocks);
}

static void once_tests(void) {
  printf("== once\n");
  enum { kCallers = 8 };
  pthread_t t[kCallers];
  for (int i = 0; i < kCallers; ++i) pthread_create(&t[i], NULL, call_once_worker, NULL);
  for (int i = 0; i < kCallers; ++i) pthread_join(t[i], NULL);
  printf("init ran %d time(s); callers that returned after it: %d of %d\n", init_runs, saw_initialized, kCallers);
  SHOW(pthread_once(&once, slow_init));

  pthread_t first, second;
  pthread_create(&first, NULL, once_cancelled, NULL);
  while (!__atomic_load_n(&cancel_in_init, __ATOMIC_ACQUIRE)) sleep_ms(1);
  pthread_create(&second, NULL, once_after_cancel, NULL);
  sleep_ms(20);  // the second waits for the first
  SHOW(pthread_cancel(first));
  void* r1;
  void* r2;
  pthread_join(first, &r1);
  pthread_join(second, &r2);
  printf("first cancelled inside the routine: %s; second ran it: rc %d, calls %d\n",
         r1 == PTHREAD_CANCELED ? "yes" : "no", (int)(intptr_t)r2, cancelled_init_calls);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  spin_locks();
  barriers();
  once_tests();
  return 0;
}
