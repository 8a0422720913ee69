/* Fixture and benchmark program: N threads at once, each resolving a
 * different name of the test DNS server's delaying zone
 * (<prefix><i>.d<MS>.bulk.test: A 10.x.y.z and AAAA fd00:77::x:y:z, each
 * answer held MS milliseconds by the server). Run inside dns_sandbox.
 *
 *   concurrent_lookups [--threads N] [--delay-ms MS] [--family 0|4|6]
 *                      [--prefix P] [--max-wall-ms MS] [--max-os-threads K]
 *                      [--expect-inflight Q] [--min-wall-ms MS]
 *
 * Prints `key value` lines (tests/bench/common protocol):
 *   dns.lookups, dns.ok     lookups made, lookups that returned the
 *                           expected addresses
 *   dns.wall_ms             from the first thread's start to the last answer
 *   dns.max_os_threads      the most OS threads the process had (sampled by
 *                           every 25th thread before and after its lookup)
 *   dns.server_inflight_max the most queries the server held at once
 * With the --max-* / --min-* / --expect-* options it is a test: it exits 1
 * (and says why on stderr) if a lookup failed or a bound is not met. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static int threads = 1000;
static int delay_ms = 200;
static int family = AF_UNSPEC;
static const char* prefix = "n";
static atomic_int ok_count;
static atomic_int max_os_threads;
static pthread_barrier_t start_line;

static int os_threads(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == NULL) return -1;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void sample_threads(void) {
  int n = os_threads();
  int seen = atomic_load(&max_os_threads);
  while (n > seen && !atomic_compare_exchange_weak(&max_os_threads, &seen, n)) {
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One lookup: its addresses must be the server's 10/8 and fd00:77:: ones. */
static void* lookup(void* arg) {
  long i = (long)arg;
  char name[96];
  snprintf(name, sizeof name, "%s%ld.d%d.bulk.test", prefix, i, delay_ms);
  pthread_barrier_wait(&start_line);
  if (i % 25 == 0) sample_threads();
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* list = NULL;
  int rc = getaddrinfo(name, NULL, &hints, &list);
  int v4 = 0, v6 = 0;
  for (struct addrinfo* a = rc == 0 ? list : NULL; a != NULL; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      v4 += (ntohl(((struct sockaddr_in*)a->ai_addr)->sin_addr.s_addr) >> 24) == 10;
    } else if (a->ai_family == AF_INET6) {
      const unsigned char* b = ((struct sockaddr_in6*)a->ai_addr)->sin6_addr.s6_addr;
      v6 += b[0] == 0xfd && b[2] == 0 && b[3] == 0x77;
    }
  }
  if (rc == 0) freeaddrinfo(list);
  int want4 = family != AF_INET6, want6 = family != AF_INET;
  if (rc == 0 && v4 == want4 && v6 == want6) {
    atomic_fetch_add(&ok_count, 1);
  } else if (rc != 0) {
    fprintf(stderr, "%s: %s\n", name, gai_strerror(rc));
  } else {
    fprintf(stderr, "%s: unexpected addresses (%d v4, %d v6)\n", name, v4, v6);
  }
  if (i % 25 == 0) sample_threads();
  return NULL;
}

/* The server's counters (see dns_test_server.py). */
static int server_txt(const char* name, const char* key) {
  unsigned char answer[512];
  int n = res_query(name, ns_c_in, ns_t_txt, answer, sizeof answer);
  if (n <= 0) return -1;
  for (int at = 0; at + (int)strlen(key) < n; ++at) {
    if (memcmp(answer + at, key, strlen(key)) == 0) return atoi((char*)answer + at + strlen(key));
  }
  return 0;
}

int main(int argc, char** argv) {
  double max_wall = -1, min_wall = -1;
  int max_threads = -1, expect_inflight = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* opt = argv[i];
    const char* v = argv[i + 1];
    if (strcmp(opt, "--threads") == 0) threads = atoi(v);
    else if (strcmp(opt, "--delay-ms") == 0) delay_ms = atoi(v);
    else if (strcmp(opt, "--family") == 0) family = atoi(v) == 4 ? AF_INET : atoi(v) == 6 ? AF_INET6 : AF_UNSPEC;
    else if (strcmp(opt, "--prefix") == 0) prefix = v;
    else if (strcmp(opt, "--max-wall-ms") == 0) max_wall = atof(v);
    else if (strcmp(opt, "--min-wall-ms") == 0) min_wall = atof(v);
    else if (strcmp(opt, "--max-os-threads") == 0) max_threads = atoi(v);
    else if (strcmp(opt, "--expect-inflight") == 0) expect_inflight = atoi(v);
    else {
      fprintf(stderr, "concurrent_lookups: unknown option %s\n", opt);
      return 2;
    }
  }
  server_txt("reset.control.test", "");
  pthread_t* tids = calloc((size_t)threads, sizeof *tids);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_barrier_init(&start_line, NULL, (unsigned)threads + 1);
  for (long i = 0; i < threads; ++i) {
    if (pthread_create(&tids[i], &attr, lookup, (void*)i) != 0) {
      fprintf(stderr, "pthread_create failed at %ld\n", i);
      return 1;
    }
  }
  pthread_barrier_wait(&start_line);
  double start = now_ms();
  for (int i = 0; i < threads; ++i) pthread_join(tids[i], NULL);
  double wall = now_ms() - start;
  sample_threads();
  int inflight = server_txt("stats.control.test", "inflight_max=");

  int ok = atomic_load(&ok_count);
  printf("dns.lookups %d\ndns.ok %d\ndns.wall_ms %.1f\ndns.max_os_threads %d\n"
         "dns.server_inflight_max %d\n",
         threads, ok, wall, atomic_load(&max_os_threads), inflight);
  int failed = 0;
  if (ok != threads) failed = fprintf(stderr, "FAIL: %d of %d lookups failed\n", threads - ok, threads);
  if (max_wall >= 0 && wall > max_wall) failed = fprintf(stderr, "FAIL: %.0f ms > %.0f ms\n", wall, max_wall);
  if (min_wall >= 0 && wall < min_wall) failed = fprintf(stderr, "FAIL: %.0f ms < %.0f ms\n", wall, min_wall);
  if (max_threads >= 0 && atomic_load(&max_os_threads) > max_threads) {
    failed = fprintf(stderr, "FAIL: %d OS threads > %d\n", atomic_load(&max_os_threads), max_threads);
  }
  if (expect_inflight >= 0 && inflight != expect_inflight) {
    failed = fprintf(stderr, "FAIL: the server held %d queries at once, expected %d\n", inflight,
                     expect_inflight);
  }
  return failed ? 1 : 0;
}
