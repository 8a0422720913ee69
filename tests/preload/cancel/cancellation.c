// Deferred cancellation of threads parked in sleeps, pthread_join, pause and
// waitpid; PTHREAD_CANCEL_DISABLE/ENABLE; pthread_testcancel; cleanup
// handlers (LIFO, with their arguments, pop(1) executing); joins returning
// PTHREAD_CANCELED; bad arguments.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char trace[512];
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static void note(const char* what) {
  pthread_mutex_lock(&trace_lock);
  strncat(trace, what, sizeof trace - strlen(trace) - 1);
  strncat(trace, " ", sizeof trace - strlen(trace) - 1);
  pthread_mutex_unlock(&trace_lock);
}

static void cleanup(void* arg) { note((const char*)arg); }

static const char* joined(pthread_t t) {
  void* result = NULL;
  int rc = pthread_join(t, &result);
  if (rc != 0) return "join failed";
  return result == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "a value";
}

static void report(const char* what, pthread_t t) {
  const char* how = joined(t);
  printf("%s: %s; trace: %s\n", what, how, trace);
  trace[0] = '\0';
}

static void* in_sleep(void* arg) {
  pthread_cleanup_push(cleanup, "outer");
  pthread_cleanup_push(cleanup, "inner");
  note(arg);
  sleep(10);
  note("NOT REACHED");
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return NULL;
}

static void* in_nanosleep(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "nanosleep-cleanup");
  struct timespec ts = {10, 0};
  nanosleep(&ts, NULL);
  pthread_cleanup_pop(0);
  return NULL;
}

static void* in_clock_nanosleep(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "clock_nanosleep-cleanup");
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += 10;
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  pthread_cleanup_pop(0);
  return NULL;
}

static void* in_pause(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "pause-cleanup");
  pause();
  pthread_cleanup_pop(0);
  return NULL;
}

static pid_t child_pid;
static void* in_waitpid(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "waitpid-cleanup");
  waitpid(child_pid, NULL, 0);
  pthread_cleanup_pop(0);
  return NULL;
}

static void* sleeps_long(void* arg) {
  (void)arg;
  usleep(300000);
  return (void*)1;
}

static pthread_t join_target;
static void* in_join(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "join-cleanup");
  pthread_join(join_target, NULL);
  pthread_cleanup_pop(0);
  return NULL;
}

static void* disabled_then_enabled(void* arg) {
  (void)arg;
  int old = -1;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  note(old == PTHREAD_CANCEL_ENABLE ? "was-enabled" : "was-not-enabled");
  pthread_cleanup_push(cleanup, "disabled-cleanup");
  // A cancellation pending while disabled does not end this sleep.
  struct timespec ts = {0, 200000000};
  int rc = nanosleep(&ts, NULL);
  note(rc == 0 ? "slept-through" : "sleep-interrupted");
  pthread_testcancel();
  note("testcancel-while-disabled-returned");
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  note(old == PTHREAD_CANCEL_DISABLE ? "was-disabled" : "was-not-disabled");
  pthread_testcancel();
  note("NOT REACHED");
  pthread_cleanup_pop(0);
  return NULL;
}

static volatile int go;
static void* testcancel_only(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "testcancel-cleanup");
  while (!go) sched_yield();  // no cancellation point in the loop
  note("loop-done");
  pthread_testcancel();
  note("NOT REACHED");
  pthread_cleanup_pop(0);
  return NULL;
}

static void* pops(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "popped-with-1");
  pthread_cleanup_push(cleanup, "popped-with-0");
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(1);
  return (void*)2;
}

static void* returns_at_once(void* arg) { return arg; }

static void* cancels_itself(void* arg) {
  (void)arg;
  pthread_cleanup_push(cleanup, "self-cleanup");
  pthread_cancel(pthread_self());
  note("after-self-cancel");
  pthread_testcancel();
  pthread_cleanup_pop(0);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t t;

  pthread_create(&t, NULL, in_sleep, "in-sleep");
  usleep(50000);
  printf("cancel sleeping thread: %d\n", pthread_cancel(t));
  report("thread in sleep", t);

  void* (*sleepers[])(void*) = {in_nanosleep, in_clock_nanosleep, in_pause};
  const char* names[] = {"thread in nanosleep", "thread in clock_nanosleep", "thread in pause"};
  for (int i = 0; i < 3; ++i) {
    pthread_create(&t, NULL, sleepers[i], NULL);
    usleep(50000);
    pthread_cancel(t);
    report(names[i], t);
  }

  child_pid = fork();
  if (child_pid == 0) {
    pause();
    _exit(0);
  }
  pthread_create(&t, NULL, in_waitpid, NULL);
  usleep(50000);
  pthread_cancel(t);
  report("thread in waitpid", t);
  kill(child_pid, SIGKILL);
  int status = 0;
  printf("the child is still ours to reap: %d\n", waitpid(child_pid, &status, 0) == child_pid);

  pthread_create(&join_target, NULL, sleeps_long, NULL);
  pthread_create(&t, NULL, in_join, NULL);
  usleep(50000);
  pthread_cancel(t);
  report("thread in pthread_join", t);
  printf("the target can still be joined: %s\n", joined(join_target));

  pthread_create(&t, NULL, disabled_then_enabled, NULL);
  usleep(50000);
  pthread_cancel(t);
  report("disable, then enable", t);

  pthread_create(&t, NULL, testcancel_only, NULL);
  usleep(20000);
  pthread_cancel(t);
  go = 1;
  report("pthread_testcancel", t);

  pthread_create(&t, NULL, pops, NULL);
  report("cleanup pop", t);

  pthread_create(&t, NULL, cancels_itself, NULL);
  report("self-cancel", t);

  // Cancelling a thread that already returned: 0, and join gives its value.
  pthread_create(&t, NULL, returns_at_once, (void*)3);
  usleep(20000);
  printf("cancel a finished thread: %d\n", pthread_cancel(t));
  report("finished thread", t);

  // Bad arguments.
  int old = 12345;
  int rc = pthread_setcancelstate(99, &old);
  printf("setcancelstate(99): %d old untouched=%d\n", rc, old == 12345);
  rc = pthread_setcanceltype(99, &old);
  printf("setcanceltype(99): %d old untouched=%d\n", rc, old == 12345);
  rc = pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
  printf("setcanceltype(DEFERRED): %d old=%d\n", rc, old);
  rc = pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  printf("setcancelstate(ENABLE): %d old=%d\n", rc, old);
  return 0;
}
