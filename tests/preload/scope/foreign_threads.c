// Calls from OS threads libc creates itself (timer_create SIGEV_THREAD,
// getaddrinfo_a's notification thread, aio's helper and notification
// threads) behave as without the preload: sleeps, mutexes, condition
// variables, thread-specific data and thread creation all work there, and
// they run on OS threads of their own.
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static pthread_key_t key;
static int done;
static char results[4][200];

static pid_t tid(void) { return (pid_t)syscall(SYS_gettid); }

static void* helper(void* arg) { return (void*)((long)arg * 3); }

// What every foreign thread checks, recorded for main to print.
static void exercise(int slot, const char* where) {
  struct timespec ts = {0, 5000000};
  int sleep_rc = nanosleep(&ts, NULL);
  int own_thread = tid() != getpid();
  pthread_setspecific(key, (void*)where);
  int specific = pthread_getspecific(key) == (void*)where;
  pthread_t t;
  void* r = NULL;
  int created = pthread_create(&t, NULL, helper, (void*)14) == 0 && pthread_join(t, &r) == 0;
  pthread_mutex_lock(&lock);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_nsec += 2000000;
  if (deadline.tv_nsec >= 1000000000) {
    deadline.tv_nsec -= 1000000000;
    deadline.tv_sec++;
  }
  int timed = pthread_cond_timedwait(&done_cond, &lock, &deadline);
  snprintf(results[slot], sizeof results[slot],
           "%s: own OS thread=%d nanosleep=%d specific=%d thread create/join=%d value=%ld "
           "cond_timedwait=%d",
           where, own_thread, sleep_rc, specific, created, (long)r, timed);
  done++;
  pthread_cond_broadcast(&done_cond);
  pthread_mutex_unlock(&lock);
}

static void wait_for(int count) {
  pthread_mutex_lock(&lock);
  while (done < count) pthread_cond_wait(&done_cond, &lock);
  pthread_mutex_unlock(&lock);
}

static void on_timer(union sigval value) { exercise(value.sival_int, "timer_create SIGEV_THREAD"); }

static void on_lookup(union sigval value) { exercise(value.sival_int, "getaddrinfo_a notification"); }

static void on_aio(union sigval value) { exercise(value.sival_int, "aio notification"); }

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_key_create(&key, NULL);

  // timer_create with SIGEV_THREAD: glibc runs the notification on a
  // helper thread it created.
  timer_t timer;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = on_timer;
  sev.sigev_value.sival_int = 0;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) return 1;
  struct itimerspec its = {{0, 0}, {0, 20000000}};
  timer_settime(timer, 0, &its, NULL);
  wait_for(1);
  timer_delete(timer);

  // getaddrinfo_a: the lookup runs on a libc thread, the notification on
  // another.
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_flags = AI_NUMERICHOST;
  struct gaicb request;
  memset(&request, 0, sizeof request);
  request.ar_name = "127.0.0.1";
  request.ar_request = &hints;
  struct gaicb* list[1] = {&request};
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = on_lookup;
  sev.sigev_value.sival_int = 1;
  int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
  wait_for(2);
  printf("getaddrinfo_a: rc=%d status=%d\n", rc, gai_error(&request));
  if (request.ar_result != NULL) freeaddrinfo(request.ar_result);

  // aio: glibc's helper thread does the read, a notification thread calls
  // back.
  int fd = open("/proc/self/exe", O_RDONLY);
  char buf[16];
  struct aiocb cb;
  memset(&cb, 0, sizeof cb);
  cb.aio_fildes = fd;
  cb.aio_buf = buf;
  cb.aio_nbytes = 4;
  cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
  cb.aio_sigevent.sigev_notify_function = on_aio;
  cb.aio_sigevent.sigev_value.sival_int = 2;
  rc = aio_read(&cb);
  wait_for(3);
  const struct aiocb* pending[1] = {&cb};
  aio_suspend(pending, 1, NULL);
  printf("aio_read: rc=%d error=%d returned=%zd magic=%d\n", rc, aio_error(&cb), aio_return(&cb),
         memcmp(buf, "\x7f" "ELF", 4) == 0);
  close(fd);

  for (int i = 0; i < 3; ++i) printf("%s\n", results[i]);
  return 0;
}
