/* select and pselect: read, write and exception sets, the timeout and the
 * time left written back into it, select with no sets as a sleep, sets
 * beyond FD_SETSIZE, bad input (EBADF, EINVAL, EFAULT), pselect's signal
 * mask (EINTR for a pending signal it unblocks), a handler interrupting
 * select (EINTR, the caller's sets kept). */
#include <signal.h>
#include <sys/select.h>
#include <sys/time.h>

#include "../sockets/fixture.h"

static void* write_after(void* arg) {
  int fd = *(int*)arg;
  sleep_ms(40);
  write(fd, "x", 1);
  return NULL;
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) {
  (void)sig;
  usr1 = 1;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  int nfds = (sp[0] > sp[1] ? sp[0] : sp[1]) + 1;
  fd_set r, w, x;

  /* No sets: a sleep; the time left is 0 afterwards. */
  struct timeval tv = {0, 60000};
  double t0 = now_ms();
  SHOW("select with no sets, 60 ms", select(0, NULL, NULL, NULL, &tv));
  printf("slept at least 60 ms: %s, time left %ld.%06ld\n", now_ms() - t0 >= 59 ? "yes" : "no",
         (long)tv.tv_sec, (long)tv.tv_usec);

  /* Idle: times out, sets cleared. */
  FD_ZERO(&r);
  FD_SET(sp[0], &r);
  tv = (struct timeval){0, 50000};
  t0 = now_ms();
  int n = select(nfds, &r, NULL, NULL, &tv);
  printf("idle, 50 ms: %d, set cleared: %s, waited: %s\n", n, FD_ISSET(sp[0], &r) ? "no" : "yes",
         now_ms() - t0 >= 49 ? "yes" : "no");

  /* Woken by another thread; the time left is written back. */
  pthread_t th;
  pthread_create(&th, NULL, write_after, &sp[1]);
  FD_ZERO(&r);
  FD_SET(sp[0], &r);
  tv = (struct timeval){5, 0};
  n = select(nfds, &r, NULL, NULL, &tv);
  printf("woken by a write: %d, readable: %s, time left between 4 and 5 s: %s\n", n,
         FD_ISSET(sp[0], &r) ? "yes" : "no", tv.tv_sec == 4 || (tv.tv_sec == 5 && tv.tv_usec == 0) ? "yes" : "no");
  pthread_join(th, NULL);
  char c;
  read(sp[0], &c, 1);

  /* Read and write sets together; no timeout. */
  FD_ZERO(&r);
  FD_ZERO(&w);
  FD_SET(sp[0], &r);
  FD_SET(sp[0], &w);
  n = select(nfds, &r, &w, NULL, NULL);
  printf("read+write sets: %d, readable %d writable %d\n", n, FD_ISSET(sp[0], &r) != 0, FD_ISSET(sp[0], &w) != 0);

  /* A full socket is not writable until the peer reads. */
  long queued = fill_socket(sp[0]);
  (void)queued;
  FD_ZERO(&w);
  FD_SET(sp[0], &w);
  tv = (struct timeval){0, 30000};
  n = select(nfds, NULL, &w, NULL, &tv);
  printf("full socket, 30 ms: %d\n", n);
  char drain[65536];
  while (recv(sp[1], drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
  FD_ZERO(&w);
  FD_SET(sp[0], &w);
  n = select(nfds, NULL, &w, NULL, NULL);
  printf("after the peer read: %d, writable %d\n", n, FD_ISSET(sp[0], &w) != 0);

  /* Exception set: TCP urgent data. */
  int port;
  int l = tcp_listener(4, &port);
  int cl = tcp_connect(port);
  int sv = accept(l, NULL, NULL);
  FD_ZERO(&x);
  FD_SET(sv, &x);
  tv = (struct timeval){0, 20000};
  n = select(sv + 1, NULL, NULL, &x, &tv);
  printf("no urgent data: %d\n", n);
  send(cl, "u", 1, MSG_OOB);
  FD_ZERO(&x);
  FD_SET(sv, &x);
  n = select(sv + 1, NULL, NULL, &x, NULL);
  printf("urgent data: %d, in the exception set %d\n", n, FD_ISSET(sv, &x) != 0);
  close(cl);
  close(sv);
  close(l);

  /* A descriptor above FD_SETSIZE, in a larger set. */
  raise_nofile();
  int high = fcntl(sp[0], F_DUPFD, FD_SETSIZE + 10);
  if (high >= 0) {
    size_t words = (size_t)(high / (8 * (int)sizeof(long)) + 1);
    unsigned long* big = calloc(words, sizeof(long));
    big[high / (8 * sizeof(long))] |= 1ul << (high % (8 * sizeof(long)));
    pthread_create(&th, NULL, write_after, &sp[1]);
    n = select(high + 1, (fd_set*)big, NULL, NULL, NULL);
    printf("descriptor above FD_SETSIZE: %d\n", n);
    pthread_join(th, NULL);
    read(sp[0], &c, 1);
    free(big);
    close(high);
  }

  /* Bad input. */
  int closed = dup(sp[0]);
  close(closed);
  FD_ZERO(&r);
  FD_SET(closed, &r);
  tv = (struct timeval){1, 0};
  SHOW("select a closed descriptor", select(closed + 1, &r, NULL, NULL, &tv));
  tv = (struct timeval){1, 0};
  SHOW("select nfds -1", select(-1, NULL, NULL, NULL, &tv));
  tv = (struct timeval){0, -1};
  SHOW("select negative timeout", select(0, NULL, NULL, NULL, &tv));
  tv = (struct timeval){0, 1500000};
  SHOW("select 1.5 s of microseconds, no sets (a sleep)", select(0, NULL, NULL, NULL, &tv));
  static fd_set* volatile bad_set = (fd_set*)8;
  tv = (struct timeval){1, 0};
  SHOW("select bad set", select(nfds, bad_set, NULL, NULL, &tv));
  struct timespec bad_ts = {0, 1000000000};
  SHOW("pselect bad timeout", pselect(0, NULL, NULL, NULL, &bad_ts, NULL));

  /* pselect: timeout untouched; a pending signal its mask unblocks. */
  struct timespec ts = {0, 40000000};
  FD_ZERO(&r);
  FD_SET(sp[0], &r);
  t0 = now_ms();
  n = pselect(nfds, &r, NULL, NULL, &ts, NULL);
  printf("pselect 40 ms: %d, waited: %s, timeout untouched: %s\n", n, now_ms() - t0 >= 39 ? "yes" : "no",
         ts.tv_nsec == 40000000 ? "yes" : "no");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t block, old, unblocked;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  raise(SIGUSR1);
  sigemptyset(&unblocked);
  FD_ZERO(&r);
  FD_SET(sp[0], &r);
  ts = (struct timespec){2, 0};
  SHOW("pselect unblocking a pending signal", pselect(nfds, &r, NULL, NULL, &ts, &unblocked));
  printf("handler ran: %d\n", (int)usr1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);

  /* A handler interrupts select: EINTR, and the sets are the caller's
   * still (a program retrying after EINTR passes them again). */
  usr1 = 0;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval in50ms = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &in50ms, NULL);
  FD_ZERO(&r);
  FD_SET(sp[0], &r);
  FD_ZERO(&w);
  tv = (struct timeval){2, 0};
  SHOW("select interrupted by a handler", select(nfds, &r, &w, NULL, &tv));
  printf("handler ran: %d, read set kept: %d\n", (int)usr1, FD_ISSET(sp[0], &r) != 0);
  close(sp[0]);
  close(sp[1]);
  return 0;
}
