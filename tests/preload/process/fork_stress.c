// Forks while other threads keep the runtime busy: contended mutexes and
// condition variables (the parking lot's buckets), thread creation and
// joining (the stack pool, the thread registry), thread-specific keys and
// sleeps. Whatever lock another thread held at the instant of the fork, each
// child must be able to lock, wait, sleep, create and join threads, and exit.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kWorkers = 6, kChildren = 40 };

static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_cond = PTHREAD_COND_INITIALIZER;
static volatile int stop;
static long busy_counter;

static void* nothing(void* arg) { return arg; }

static void* worker(void* arg) {
  long id = (long)arg;
  pthread_key_t key;
  while (!stop) {
    pthread_mutex_lock(&busy_lock);
    busy_counter++;
    pthread_cond_signal(&busy_cond);
    pthread_mutex_unlock(&busy_lock);
    pthread_t t;
    pthread_create(&t, NULL, nothing, NULL);
    pthread_join(t, NULL);
    if (pthread_key_create(&key, NULL) == 0) pthread_key_delete(key);
    if (id % 2 == 0) {
      pthread_mutex_lock(&busy_lock);
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += 200000;
      if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_nsec -= 1000000000;
        deadline.tv_sec++;
      }
      pthread_cond_timedwait(&busy_cond, &busy_lock, &deadline);
      pthread_mutex_unlock(&busy_lock);
    } else {
      usleep(100);
    }
  }
  return NULL;
}

static void* child_thread(void* arg) {
  usleep(1000);
  return (void*)((long)arg + 1);
}

// Everything a child does; exit status 0 when all of it worked.
static int child_life(void) {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
  pthread_t t[3];
  long sum = 0;
  for (long i = 0; i < 3; ++i) {
    if (pthread_create(&t[i], NULL, child_thread, (void*)i) != 0) return 1;
  }
  for (int i = 0; i < 3; ++i) {
    void* r;
    if (pthread_join(t[i], &r) != 0) return 2;
    sum += (long)r;
  }
  if (sum != 6) return 3;
  pthread_key_t key;
  if (pthread_key_create(&key, NULL) != 0) return 4;
  pthread_mutex_lock(&fresh);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += 1000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_nsec -= 1000000000;
    deadline.tv_sec++;
  }
  if (pthread_cond_timedwait(&fresh_cond, &fresh, &deadline) != ETIMEDOUT) return 5;
  pthread_mutex_unlock(&fresh);
  if (usleep(1000) != 0) return 6;
  return 0;
}

int main(void) {
  pthread_t workers[kWorkers];
  for (long i = 0; i < kWorkers; ++i) pthread_create(&workers[i], NULL, worker, (void*)i);
  usleep(20000);
  int clean = 0, failed = 0, hung = 0;
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(child_life());
    // Wait up to 10 s for the child; a hung child is killed and counted.
    int status = 0;
    pid_t r = 0;
    for (int waited = 0; waited < 10000 && (r = waitpid(pid, &status, WNOHANG)) == 0; ++waited) {
      usleep(1000);
    }
    if (r == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      hung++;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      clean++;
    } else {
      failed++;
      fprintf(stderr, "child %d: status %d\n", i, status);
    }
  }
  stop = 1;
  for (int i = 0; i < kWorkers; ++i) pthread_join(workers[i], NULL);
  printf("%d children: %d clean, %d failed, %d hung; the workers made progress: %d\n", kChildren,
         clean, failed, hung, busy_counter > 0);
  return 0;
}
