// Signal handlers interrupting sleeps: EINTR and the remaining time, for
// main() (process-directed signals: setitimer, kill) and for a thread sent a
// signal with pthread_kill; sleeps a signal does not concern complete.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static pthread_t handler_thread;

static void on_signal(int sig) {
  (void)sig;
  handled++;
  handler_thread = pthread_self();
}

static void on_signal_info(int sig, siginfo_t* info, void* context) {
  (void)context;
  (void)info;
  on_signal(sig);
}

static void install(int sig, int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  if (flags & SA_SIGINFO) sa.sa_sigaction = on_signal_info;
  else sa.sa_handler = on_signal;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

// SIGALRM in `ms` milliseconds (process-directed).
static void alarm_in(int ms) {
  struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static int64_t ns(const struct timespec* ts) { return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec; }

// The remaining time, in whole tenths of the request that were not slept
// (robust to scheduling noise: the signal comes at 10% of the sleep).
static int tenths_left(const struct timespec* rem, const struct timespec* req) {
  return (int)((ns(rem) * 10 + ns(req) / 2) / ns(req));
}

static void main_sleeps(void) {
  install(SIGALRM, 0);
  struct timespec req = {2, 0}, rem = {0, 0};
  handled = 0;
  alarm_in(200);
  errno = 0;
  int rc = nanosleep(&req, &rem);
  printf("nanosleep: rc=%d errno=%d handled=%d tenths left=%d handler on main=%d\n", rc, errno,
         (int)handled, tenths_left(&rem, &req), pthread_equal(handler_thread, pthread_self()));

  // SA_RESTART does not restart nanosleep.
  install(SIGALRM, SA_RESTART | SA_SIGINFO);
  handled = 0;
  alarm_in(200);
  rc = nanosleep(&req, NULL);
  printf("nanosleep, SA_RESTART handler: rc=%d errno=%d handled=%d\n", rc, errno, (int)handled);

  install(SIGALRM, 0);
  alarm_in(200);
  errno = 0;
  unsigned left = sleep(2);
  printf("sleep(2): returned %u errno=%d\n", left, errno);

  alarm_in(200);
  errno = 0;
  rc = usleep(2000000);
  printf("usleep(2 s): rc=%d errno=%d\n", rc, errno);

  struct timespec crem = {0, 0};
  alarm_in(200);
  errno = 0;
  rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &crem);
  printf("clock_nanosleep relative: rc=%d errno=%d tenths left=%d\n", rc, errno,
         tenths_left(&crem, &req));

  struct timespec abs;
  clock_gettime(CLOCK_REALTIME, &abs);
  abs.tv_sec += 2;
  struct timespec untouched = {77, 77};
  alarm_in(200);
  rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, &untouched);
  printf("clock_nanosleep absolute: rc=%d rem untouched=%d\n", rc,
         untouched.tv_sec == 77 && untouched.tv_nsec == 77);

  struct timespec trem = {0, 0};
  alarm_in(200);
  rc = thrd_sleep(&req, &trem);
  printf("thrd_sleep: rc=%d tenths left=%d\n", rc, tenths_left(&trem, &req));

  alarm_in(100);
  errno = 0;
  handled = 0;
  rc = pause();
  printf("pause: rc=%d errno=%d handled=%d\n", rc, errno, (int)handled);

  // A handler installed with signal() (BSD semantics, SA_RESTART) still
  // interrupts a sleep.
  signal(SIGALRM, on_signal);
  alarm_in(200);
  rc = nanosleep(&req, NULL);
  printf("nanosleep, signal() handler: rc=%d errno=%d\n", rc, errno);

  // A signal handled before the sleep starts does not interrupt it.
  install(SIGUSR2, 0);
  handled = 0;
  raise(SIGUSR2);
  struct timespec short_sleep = {0, 20000000};
  rc = nanosleep(&short_sleep, NULL);
  printf("nanosleep after a handled raise: rc=%d handled=%d\n", rc, (int)handled);
}

static void* kill_process_later(void* arg) {
  (void)arg;
  usleep(200000);
  kill(getpid(), SIGUSR1);
  return NULL;
}

static volatile int worker_rc = 99, worker_errno = 0, worker_tenths = -1;
static pthread_t worker_handle;

static void* worker_sleeps(void* arg) {
  (void)arg;
  struct timespec req = {2, 0}, rem = {0, 0};
  errno = 0;
  worker_rc = nanosleep(&req, &rem);
  worker_errno = errno;
  worker_tenths = tenths_left(&rem, &req);
  return NULL;
}

static void* worker_short_sleep(void* arg) {
  (void)arg;
  struct timespec req = {0, 400000000};
  worker_rc = nanosleep(&req, NULL);
  worker_errno = errno;
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  main_sleeps();

  // kill() from a thread: process-directed, it interrupts main's sleep.
  install(SIGUSR1, 0);
  pthread_t killer;
  pthread_create(&killer, NULL, kill_process_later, NULL);
  struct timespec req = {2, 0};
  handled = 0;
  int rc = nanosleep(&req, NULL);
  printf("main's nanosleep, kill() from a thread: rc=%d errno=%d handled=%d\n", rc, errno,
         (int)handled);
  pthread_join(killer, NULL);

  // pthread_kill to a sleeping thread: its sleep ends with EINTR and the
  // handler runs on it.
  handled = 0;
  pthread_create(&worker_handle, NULL, worker_sleeps, NULL);
  usleep(200000);
  pthread_kill(worker_handle, SIGUSR1);
  pthread_join(worker_handle, NULL);
  printf("thread's nanosleep, pthread_kill: rc=%d errno=%d tenths left=%d handled=%d on it=%d\n",
         worker_rc, worker_errno, worker_tenths, (int)handled,
         pthread_equal(handler_thread, worker_handle));

  // A process-directed signal while main waits in pthread_join: main runs
  // the handler, the thread's sleep completes.
  install(SIGALRM, 0);
  handled = 0;
  pthread_t sleeper;
  pthread_create(&sleeper, NULL, worker_short_sleep, NULL);
  alarm_in(100);
  pthread_join(sleeper, NULL);
  printf("thread's sleep, alarm while main joins: rc=%d handled=%d on main=%d\n", worker_rc,
         (int)handled, pthread_equal(handler_thread, pthread_self()));
  return 0;
}
