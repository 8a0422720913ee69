// Sleeping without signals: return values, errno, argument checks, every
// clock, from main() and from threads. Durations are checked only as lower
// bounds (a sleep never ends early).
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char* at_least(int64_t start, int64_t ns) {
  return now_ns(CLOCK_MONOTONIC) - start >= ns ? "slept long enough" : "WOKE EARLY";
}

static void check_nanosleep(const char* who) {
  struct timespec req = {0, 3000000}, rem = {77, 77};
  int64_t start = now_ns(CLOCK_MONOTONIC);
  errno = 1234;
  int rc = nanosleep(&req, &rem);
  printf("%s nanosleep 3ms: rc=%d errno=%d rem untouched=%d %s\n", who, rc, errno,
         rem.tv_sec == 77 && rem.tv_nsec == 77, at_least(start, 3000000));
  struct timespec zero = {0, 0};
  printf("%s nanosleep 0: rc=%d\n", who, nanosleep(&zero, NULL));
  struct timespec bad[] = {{0, -1}, {0, 1000000000}, {-1, 0}, {-5, 999999999}};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    errno = 0;
    rem.tv_sec = 77;
    int r = nanosleep(&bad[i], &rem);
    printf("%s nanosleep bad %u: rc=%d errno=%d rem untouched=%d\n", who, i, r, errno, rem.tv_sec == 77);
  }
  errno = 0;
  rc = nanosleep(NULL, NULL);
  printf("%s nanosleep NULL: rc=%d errno=%d\n", who, rc, errno);
  errno = 0;
  rc = usleep(2000);
  printf("%s usleep 2000: rc=%d errno=%d\n", who, rc, errno);
}

static void check_clock_nanosleep(const char* who) {
  const struct { clockid_t id; const char* name; } clocks[] = {
      {CLOCK_REALTIME, "REALTIME"}, {CLOCK_MONOTONIC, "MONOTONIC"},
      {CLOCK_BOOTTIME, "BOOTTIME"}, {CLOCK_TAI, "TAI"}};
  for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; ++i) {
    struct timespec req = {0, 2000000}, rem = {77, 77};
    int64_t start = now_ns(CLOCK_MONOTONIC);
    errno = 4321;
    int rc = clock_nanosleep(clocks[i].id, 0, &req, &rem);
    printf("%s clock_nanosleep %s relative: rc=%d errno=%d rem untouched=%d %s\n", who,
           clocks[i].name, rc, errno, rem.tv_sec == 77, at_least(start, 2000000));
    struct timespec abs;
    clock_gettime(clocks[i].id, &abs);
    abs.tv_nsec += 4000000;
    if (abs.tv_nsec >= 1000000000) {
      abs.tv_nsec -= 1000000000;
      abs.tv_sec += 1;
    }
    start = now_ns(CLOCK_MONOTONIC);
    rc = clock_nanosleep(clocks[i].id, TIMER_ABSTIME, &abs, NULL);
    struct timespec after;
    clock_gettime(clocks[i].id, &after);
    int reached = after.tv_sec > abs.tv_sec || (after.tv_sec == abs.tv_sec && after.tv_nsec >= abs.tv_nsec);
    printf("%s clock_nanosleep %s absolute: rc=%d deadline reached=%d\n", who, clocks[i].name, rc, reached);
    struct timespec past = {1, 0};
    printf("%s clock_nanosleep %s absolute in the past: rc=%d\n", who, clocks[i].name,
           clock_nanosleep(clocks[i].id, TIMER_ABSTIME, &past, NULL));
    struct timespec bad = {0, 1000000000};
    printf("%s clock_nanosleep %s bad nsec: rc=%d\n", who, clocks[i].name,
           clock_nanosleep(clocks[i].id, 0, &bad, NULL));
    struct timespec negative = {-1, 0};
    printf("%s clock_nanosleep %s negative: rc=%d absolute rc=%d\n", who, clocks[i].name,
           clock_nanosleep(clocks[i].id, 0, &negative, NULL),
           clock_nanosleep(clocks[i].id, TIMER_ABSTIME, &negative, NULL));
  }
  // Clocks the kernel does not sleep on, and no clock at all. The error
  // number is returned, errno is left alone.
  struct timespec req = {0, 1000};
  const struct { clockid_t id; const char* name; } others[] = {
      {CLOCK_THREAD_CPUTIME_ID, "THREAD_CPUTIME"}, {CLOCK_MONOTONIC_RAW, "MONOTONIC_RAW"},
      {CLOCK_REALTIME_COARSE, "REALTIME_COARSE"}, {CLOCK_MONOTONIC_COARSE, "MONOTONIC_COARSE"},
      {99, "clock 99"}, {-1, "clock -1"}};
  for (unsigned i = 0; i < sizeof others / sizeof others[0]; ++i) {
    errno = 555;
    int rc = clock_nanosleep(others[i].id, 0, &req, NULL);
    printf("%s clock_nanosleep %s: rc=%d errno=%d\n", who, others[i].name, rc, errno);
  }
}

static void check_sleep_usleep_thrd(const char* who) {
  errno = 777;
  unsigned zero_left = sleep(0);
  printf("%s sleep(0): %u errno=%d\n", who, zero_left, errno);
  int64_t start = now_ns(CLOCK_MONOTONIC);
  errno = 777;
  unsigned left_s = sleep(1);
  int saved = errno;
  printf("%s sleep(1): %u errno=%d %s\n", who, left_s, saved, at_least(start, 1000000000));
  printf("%s usleep(0): %d\n", who, usleep(0));
  start = now_ns(CLOCK_MONOTONIC);
  int rc = usleep(1500);
  printf("%s usleep(1500): %d %s\n", who, rc, at_least(start, 1500000));
  struct timespec d = {0, 1000000}, left = {77, 0};
  errno = 999;
  rc = thrd_sleep(&d, &left);
  printf("%s thrd_sleep 1ms: %d errno=%d left untouched=%d\n", who, rc, errno, left.tv_sec == 77);
  struct timespec bad = {0, -5};
  printf("%s thrd_sleep bad: %d\n", who, thrd_sleep(&bad, NULL));
  struct timespec negative = {-2, 0};
  printf("%s thrd_sleep negative: %d\n", who, thrd_sleep(&negative, NULL));
}

static void* sleep_50ms(void* arg) {
  (void)arg;
  usleep(50000);
  return NULL;
}

static void* thread_checks(void* arg) {
  const char* who = arg;
  check_nanosleep(who);
  check_clock_nanosleep(who);
  check_sleep_usleep_thrd(who);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  thread_checks("main");
  // Threads one after the other (their output must not interleave), then
  // many sleeping at once.
  const char* names[] = {"thread 1", "thread 2", "thread 3"};
  for (int i = 0; i < 3; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, thread_checks, (void*)names[i]);
    pthread_join(t, NULL);
  }
  enum { kConcurrent = 200 };
  static pthread_t sleepers[kConcurrent];
  int64_t start = now_ns(CLOCK_MONOTONIC);
  for (int i = 0; i < kConcurrent; ++i) {
    pthread_create(&sleepers[i], NULL, sleep_50ms, NULL);
  }
  for (int i = 0; i < kConcurrent; ++i) pthread_join(sleepers[i], NULL);
  int64_t took = now_ns(CLOCK_MONOTONIC) - start;
  printf("200 concurrent 50 ms sleeps: %s, within 2 s: %d\n", at_least(start, 50000000),
         took < 2000000000);
  return 0;
}
