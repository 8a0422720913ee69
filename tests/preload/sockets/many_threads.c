/* Many threads, each blocked in recv on its own socketpair (under the
 * preload: green threads on GREENHUB_HUBS OS threads, checked on stderr).
 * The main thread wakes them in reverse order; each echoes what it got,
 * doubled, and the main thread checks every answer. */
#include "fixture.h"

#define THREADS 500

static int pairs[THREADS][2];

static void* echo_once(void* arg) {
  int i = (int)(long)arg;
  char buf[32];
  ssize_t n = recv(pairs[i][1], buf, sizeof buf, 0);
  if (n <= 0) return (void*)1;
  char out[64];
  memcpy(out, buf, (size_t)n);
  memcpy(out + n, buf, (size_t)n);
  if (send(pairs[i][1], out, (size_t)(2 * n), 0) != 2 * n) return (void*)1;
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  raise_nofile();
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; ++i) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) == 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    CHECK(pthread_create(&th[i], &attr, echo_once, (void*)(long)i) == 0);
    pthread_attr_destroy(&attr);
  }
  sleep_ms(100);
  int bad_threads = check_os_threads("all blocked in recv", THREADS);
  for (int i = THREADS - 1; i >= 0; --i) {
    char msg[16];
    int len = snprintf(msg, sizeof msg, "m%d", i);
    CHECK(send(pairs[i][0], msg, (size_t)len, 0) == len);
  }
  int good = 0;
  for (int i = 0; i < THREADS; ++i) {
    char expect[32], got[32];
    int len = snprintf(expect, sizeof expect, "m%dm%d", i, i);
    ssize_t n = recv(pairs[i][0], got, (size_t)len, MSG_WAITALL);
    if (n == len && memcmp(got, expect, (size_t)len) == 0) ++good;
  }
  int failed = 0;
  for (int i = 0; i < THREADS; ++i) {
    void* r;
    pthread_join(th[i], &r);
    failed += r != NULL;
    close(pairs[i][0]);
    close(pairs[i][1]);
  }
  printf("%d threads, %d correct echoes, %d failed\n", THREADS, good, failed);
  return bad_threads;
}
