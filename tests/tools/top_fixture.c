/* Fixture for greentop and the gdb commands: a plain pthread program whose
 * threads wait in known functions, on known descriptors, with known names.
 *
 *   reader   recv() on one end of a socketpair, in fixture_reader_wait
 *   sleeper  nanosleep() of an hour, in fixture_sleeper_wait
 *   waiter   pthread_cond_wait(), in fixture_cond_wait
 *   main     read() on stdin, in fixture_main_wait: closing stdin ends it
 *   spinner  (with arguments "spin SECONDS") a CPU-bound loop that keeps its
 *            hub (hub 1 with GREENHUB_HUBS=2) from switching for SECONDS
 *
 * Once all three threads are parked it prints "ready READER_FD" on stdout.
 * Built with frame pointers and -rdynamic so that the function names appear
 * in a greentop dump (dladdr); gdb reads the debug information. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int pair[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int released;

__attribute__((noinline)) int fixture_reader_wait(int fd) {
  char c;
  ssize_t n = recv(fd, &c, 1, 0);
  return (int)n;
}

static void* reader(void* arg) {
  (void)arg;
  fixture_reader_wait(pair[0]);
  return NULL;
}

__attribute__((noinline)) int fixture_sleeper_wait(void) {
  struct timespec hour = {3600, 0};
  return nanosleep(&hour, NULL);
}

static void* sleeper(void* arg) {
  (void)arg;
  fixture_sleeper_wait();
  return NULL;
}

__attribute__((noinline)) int fixture_cond_wait(void) {
  pthread_mutex_lock(&lock);
  while (!released) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
  return 0;
}

static void* waiter(void* arg) {
  (void)arg;
  fixture_cond_wait();
  return NULL;
}

static double spin_seconds;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

__attribute__((noinline)) void fixture_spin(void) {
  double end = now_seconds() + spin_seconds;
  while (now_seconds() < end) {
  }
}

static void* spinner(void* arg) {
  (void)arg;
  fixture_spin();
  return NULL;
}

__attribute__((noinline)) ssize_t fixture_main_wait(char* buf, size_t len) {
  return read(0, buf, len);
}

int main(int argc, char** argv) {
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
    perror("socketpair");
    return 1;
  }
  pthread_t threads[3];
  void* (*bodies[3])(void*) = {reader, sleeper, waiter};
  const char* names[3] = {"reader", "sleeper", "waiter"};
  for (int i = 0; i < 3; ++i) {
    if (pthread_create(&threads[i], NULL, bodies[i], NULL) != 0) return 1;
    pthread_setname_np(threads[i], names[i]);
  }
  if (argc == 3 && strcmp(argv[1], "spin") == 0) {
    pthread_t t;
    spin_seconds = atof(argv[2]);
    if (pthread_create(&t, NULL, spinner, NULL) != 0) return 1;  /* the 4th: hub 1 of 2 */
    pthread_setname_np(t, "spinner");
  }
  struct timespec settle = {0, 200 * 1000 * 1000};
  nanosleep(&settle, NULL);  /* let each thread reach its wait */
  printf("ready %d\n", pair[0]);
  fflush(stdout);
  char buf[64];
  while (fixture_main_wait(buf, sizeof buf) > 0) {
  }
  return 0;
}
