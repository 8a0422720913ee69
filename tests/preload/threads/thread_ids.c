// Thread ids: gettid() and syscall(SYS_gettid) agree, the main thread's id
// is the process id, every other thread's is distinct and not the process
// id; tgkill/tkill (glibc and raw syscall) reach the thread whose id they
// name, and give ESRCH for a thread that has ended or never was. Prints only
// what holds natively, so the preload must print the same.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kThreads = 8 };

static pid_t ids[kThreads];
static pid_t raw_ids[kThreads];
static pthread_barrier_t all_started;
static pthread_barrier_t ids_checked;
static pthread_t handles[kThreads + 1];  // the workers, then main
static volatile sig_atomic_t handled[kThreads + 1];  // SIGUSR1 handled on each thread
static volatile sig_atomic_t stop_waiting[kThreads];

// Counts the signal for the thread it runs on (not a __thread counter:
// those are per OS thread under the preload, see README).
static void on_signal(int sig) {
  (void)sig;
  for (int i = 0; i <= kThreads; ++i) {
    if (pthread_equal(handles[i], pthread_self())) ++handled[i];
  }
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void* worker(void* arg) {
  int i = (int)(long)arg;
  handles[i] = pthread_self();
  ids[i] = gettid();
  raw_ids[i] = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&all_started);
  pthread_barrier_wait(&ids_checked);
  if (i == 0) {
    // Signals to itself, three ways: each runs the handler on this thread.
    int before = handled[0];
    int a = tgkill(getpid(), gettid(), SIGUSR1);
    int b = (int)syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
    int c = (int)syscall(SYS_tkill, gettid(), SIGUSR1);
    printf("self: tgkill %d, syscall tgkill %d, syscall tkill %d, handled here %d\n", a, b, c,
           handled[0] - before);
  }
  // Thread 1 sleeps until main's tgkill, sent 20 ms after the barrier,
  // interrupts it (the handler then runs as thread 1, natively and green).
  if (i == 1) {
    struct timespec five = {5, 0};
    int rc = nanosleep(&five, NULL);
    printf("thread 1: sleep interrupted %d, handled main's tgkill here %d\n",
           rc == -1 && errno == EINTR, handled[1]);
  }
  while (!stop_waiting[i]) sleep_ms(1);
  return NULL;
}

int main(void) {
  handles[kThreads] = pthread_self();
  signal(SIGUSR1, on_signal);
  printf("main: gettid() is the process id %d, syscall agrees %d\n", gettid() == getpid(),
         (pid_t)syscall(SYS_gettid) == gettid());
  pthread_barrier_init(&all_started, NULL, kThreads + 1);
  pthread_barrier_init(&ids_checked, NULL, kThreads + 1);
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; ++i) pthread_create(&t[i], NULL, worker, (void*)(long)i);
  pthread_barrier_wait(&all_started);
  int distinct = 1, not_pid = 1, agree = 1;
  for (int i = 0; i < kThreads; ++i) {
    agree &= ids[i] == raw_ids[i];
    not_pid &= ids[i] != getpid() && ids[i] > 0;
    for (int j = 0; j < i; ++j) distinct &= ids[i] != ids[j];
  }
  printf("threads: ids distinct %d, none is the process id %d, syscall agrees %d\n", distinct,
         not_pid, agree);
  pthread_barrier_wait(&ids_checked);

  sleep_ms(20);
  int to_thread_1 = tgkill(getpid(), ids[1], SIGUSR1);
  int signal_0 = tgkill(getpid(), ids[2], 0);
  for (int i = 0; i < kThreads; ++i) {
    stop_waiting[i] = 1;
    pthread_join(t[i], NULL);
  }
  // Printed after the joins, so that the threads' lines come first.
  printf("main: tgkill to thread 1 returned %d, signal 0 to a live thread %d\n", to_thread_1,
         signal_0);
  errno = 0;
  int rc = tgkill(getpid(), ids[3], SIGUSR1);
  printf("after join: tgkill %d errno %s\n", rc, strerror(errno));
  errno = 0;
  rc = (int)syscall(SYS_tkill, ids[3], 0);
  printf("after join: syscall tkill %d errno %s\n", rc, strerror(errno));
  errno = 0;
  rc = tgkill(getpid(), 0x7ffffff0, 0);
  printf("no such id: tgkill %d errno %s\n", rc, strerror(errno));
  errno = 0;
  rc = tgkill(getpid(), ids[4], -1);
  printf("bad signal after join: tgkill %d errno %s\n", rc, strerror(errno));
  printf("signals handled: main %d, threads 2-7 %d\n", handled[kThreads],
         handled[2] + handled[3] + handled[4] + handled[5] + handled[6] + handled[7]);
  return 0;
}
