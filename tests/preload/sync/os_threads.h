// Structural proof of greenness: how many OS threads the process has, and
// the most it may have under the preload.
//
// Under LD_PRELOAD=libgreenhub_preload.so a program's threads are
// greenlets, so the process runs on GREENHUB_HUBS OS threads (hub 0 is the
// main thread) plus at most kRuntimeThreads of the runtime's own (room for
// a monitor thread and one helper, e.g. the resolver's worker). A fixture
// checks the bound only when it runs under the preload, and says so on
// stderr only when the bound is broken: the differential harness compares
// stdout and stderr with the native run's.
#pragma once

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kRuntimeThreads = 2 };

// Entries of /proc/self/task: the OS threads of this process.
static inline int os_thread_count(void) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == NULL) return -1;
  int n = 0;
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

// The kernel tid of the OS thread running the caller, from /proc/thread-self
// ("PID/task/TID"): under the preload gettid() gives each green thread an id
// of its own, this is the OS thread's. -1 if unreadable.
static inline pid_t os_thread_id(void) {
  char link[64];
  ssize_t n = readlink("/proc/thread-self", link, sizeof link - 1);
  if (n <= 0) return -1;
  link[n] = '\0';
  const char* task = strstr(link, "/task/");
  return task != NULL ? (pid_t)atoi(task + 6) : -1;
}

// The OS-thread bound under the preload, or 0 when running natively.
static inline int preload_os_thread_bound(void) {
  const char* preload = getenv("LD_PRELOAD");
  if (preload == NULL || strstr(preload, "greenhub_preload") == NULL) return 0;
  int hubs = 0;
  const char* h = getenv("GREENHUB_HUBS");
  if (h != NULL && *h != '\0') {
    hubs = atoi(h);
  } else {
    cpu_set_t set;
    CPU_ZERO(&set);
    hubs = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  return hubs + kRuntimeThreads;
}

// Checks the bound with `blocked` threads blocked; returns 0 if it holds
// (or when running natively), 1 otherwise, after reporting on stderr (only
// then: the differential harness compares stderr too).
static inline int check_os_threads(const char* when, int blocked) {
  int count = os_thread_count();
  int bound = preload_os_thread_bound();
  if (bound != 0 && (count < 1 || count > bound)) {
    fprintf(stderr, "FAILED: %s: %d threads blocked on %d OS threads under the preload, more than %d\n",
            when, blocked, count, bound);
    return 1;
  }
  return 0;
}
