// pthread lifecycle: create, join with values, detach, exit with cleanup
// handlers, self/equal, keys with destructors, names, bad input.
#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_key_t key;

static void key_destructor(void* v) { printf("destructor %ld\n", (long)(intptr_t)v); }
static void cleanup(void* arg) { printf("cleanup %s\n", (const char*)arg); }

static void* returns_value(void* arg) {
  usleep(1000);
  return (void*)((intptr_t)arg * 2);
}

static void* exits_with_cleanup(void* arg) {
  (void)arg;
  pthread_setspecific(key, (void*)(intptr_t)42);
  pthread_cleanup_push(cleanup, "outer");
  pthread_cleanup_push(cleanup, "inner");
  usleep(1000);
  pthread_exit((void*)(intptr_t)7);
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return NULL;
}

static void* report_own_name(void* arg) {
  (void)arg;
  char own[16];
  pthread_getname_np(pthread_self(), own, sizeof own);
  printf("new thread's inherited name=%s\n", own);
  return NULL;
}

static void* sleeper(void* arg) {
  usleep((useconds_t)(intptr_t)arg);
  return NULL;
}

static pthread_t self_handle;

static void* self_check(void* arg) {
  (void)arg;
  usleep(1000);
  return (void*)(intptr_t)pthread_equal(pthread_self(), self_handle);
}

int main(void) {
  pthread_key_create(&key, key_destructor);
  pthread_t t[8];
  for (intptr_t i = 0; i < 8; ++i) pthread_create(&t[i], NULL, returns_value, (void*)i);
  long sum = 0;
  for (int i = 0; i < 8; ++i) {
    void* r;
    int rc = pthread_join(t[i], &r);
    sum += (long)(intptr_t)r + rc;
  }
  printf("sum of values %ld\n", sum);

  pthread_t e;
  pthread_create(&e, NULL, exits_with_cleanup, NULL);
  void* r;
  printf("join exit rc=%d value=%ld\n", pthread_join(e, &r), (long)(intptr_t)r);

  pthread_create(&self_handle, NULL, self_check, NULL);
  pthread_join(self_handle, &r);
  printf("self equals handle: %ld\n", (long)(intptr_t)r);
  printf("main equals self: %d\n", pthread_equal(pthread_self(), pthread_self()));

  // Detached: joining it is EINVAL, detaching twice is EINVAL.
  pthread_t d;
  pthread_create(&d, NULL, sleeper, (void*)(intptr_t)50000);
  printf("detach rc=%d\n", pthread_detach(d));
  printf("join detached rc=%d\n", pthread_join(d, NULL));
  printf("detach again rc=%d\n", pthread_detach(d));

  // Joining oneself: EDEADLK.
  printf("join self rc=%d\n", pthread_join(pthread_self(), NULL));

  // tryjoin on a running thread: EBUSY; timedjoin with a past deadline: ETIMEDOUT.
  pthread_t b;
  pthread_create(&b, NULL, sleeper, (void*)(intptr_t)30000);
  printf("tryjoin running rc=%d\n", pthread_tryjoin_np(b, NULL));
  struct timespec past = {0, 0};
  printf("timedjoin past rc=%d\n", pthread_timedjoin_np(b, NULL, &past));
  struct timespec bad = {0, 2000000000L};
  printf("timedjoin bad nsec rc=%d\n", pthread_timedjoin_np(b, NULL, &bad));
  pthread_t c;
  pthread_create(&c, NULL, sleeper, (void*)(intptr_t)10000);
  struct timespec later;
  clock_gettime(CLOCK_MONOTONIC, &later);
  later.tv_sec += 5;
  printf("clockjoin rc=%d\n", pthread_clockjoin_np(c, NULL, CLOCK_MONOTONIC, &later));

  // Names.
  pthread_t n;
  pthread_create(&n, NULL, sleeper, (void*)(intptr_t)20000);
  printf("setname long rc=%d\n", pthread_setname_np(n, "this-name-is-too-long"));
  printf("setname rc=%d\n", pthread_setname_np(n, "worker-1"));
  char name[16];
  printf("getname small rc=%d\n", pthread_getname_np(n, name, 4));
  int rc = pthread_getname_np(n, name, sizeof name);
  printf("getname rc=%d name=%s\n", rc, name);
  pthread_join(n, NULL);

  // A new thread inherits its creator's name, as renamed by
  // pthread_setname_np or prctl(PR_SET_NAME) just before.
  char saved_name[16];
  pthread_getname_np(pthread_self(), saved_name, sizeof saved_name);
  for (int i = 0; i < 2; ++i) {
    if (i == 0) pthread_setname_np(pthread_self(), "main-renamed");
    else prctl(PR_SET_NAME, "main-prctl", 0, 0, 0);
    pthread_create(&n, NULL, report_own_name, NULL);
    pthread_join(n, NULL);
  }
  pthread_setname_np(pthread_self(), saved_name);

  // Keys.
  pthread_key_t k2;
  printf("key_create rc=%d\n", pthread_key_create(&k2, NULL));
  printf("getspecific unset %p\n", pthread_getspecific(k2));
  pthread_setspecific(k2, (void*)(intptr_t)5);
  printf("getspecific %ld\n", (long)(intptr_t)pthread_getspecific(k2));
  printf("key_delete rc=%d\n", pthread_key_delete(k2));
  printf("key_delete again rc=%d\n", pthread_key_delete(k2));
  printf("setspecific deleted rc=%d\n", pthread_setspecific(k2, NULL));
  usleep(60000);  // let the detached sleeper finish
  return 3;
}
