// How many OS threads run a program's threads, checked against what the
// test expects: natively one per thread; with GREENHUB_HUBS=N one per hub;
// with GREENHUB_GREEN_THREADS=0 one per thread again, each thread's waits on
// a hub of its own (an epoll instance per thread).
//
//   structure TASKS DISTINCT_TIDS MIN_EPOLL_FDS
//
// 50 threads sleep at once (waiting on a mutex and a condition variable
// first), in 10 ms naps until main releases them; while they sleep, main
// counts /proc/self/task, the distinct kernel thread ids the threads run on
// (read from /proc/thread-self, the OS thread's own: under the preload
// gettid() gives each green thread an id of its own), and the epoll
// descriptors.
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../sync/os_threads.h"

enum { kThreads = 50 };

static pid_t tids[kThreads];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started;
static volatile int released;

static void* sleeper(void* arg) {
  long i = (long)arg;
  tids[i] = os_thread_id();
  pthread_mutex_lock(&lock);
  started++;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
  while (!released) usleep(10000);
  return NULL;
}

static int count_dir(const char* path, const char* link_prefix) {
  DIR* d = opendir(path);
  int n = 0;
  for (struct dirent* e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    if (link_prefix == NULL) {
      n++;
      continue;
    }
    char p[512], target[256];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    ssize_t len = readlink(p, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    n += strncmp(target, link_prefix, strlen(link_prefix)) == 0;
  }
  closedir(d);
  return n;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: structure TASKS DISTINCT_TIDS MIN_EPOLL_FDS\n");
    return 2;
  }
  pthread_t threads[kThreads];
  for (long i = 0; i < kThreads; ++i) pthread_create(&threads[i], NULL, sleeper, (void*)i);
  pthread_mutex_lock(&lock);
  while (started < kThreads) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
  usleep(50000);  // every thread is in its sleep now
  const int tasks = count_dir("/proc/self/task", NULL);
  const int epolls = count_dir("/proc/self/fd", "anon_inode:[eventpoll]");
  released = 1;
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  int distinct = 0;
  for (int i = 0; i < kThreads; ++i) {
    int seen = 0;
    for (int j = 0; j < i; ++j) seen |= tids[j] == tids[i];
    distinct += !seen;
  }
  printf("tasks=%d distinct thread ids=%d epoll descriptors=%d\n", tasks, distinct, epolls);
  const int ok = tasks == atoi(argv[1]) && distinct == atoi(argv[2]) && epolls >= atoi(argv[3]);
  if (!ok) printf("expected tasks=%s distinct=%s epoll>=%s\n", argv[1], argv[2], argv[3]);
  return ok ? 0 : 1;
}
