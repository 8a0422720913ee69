/* poll and ppoll: timeouts, revents (POLLIN, POLLOUT, POLLHUP, POLLRDHUP,
 * POLLPRI, POLLNVAL, POLLERR), negative descriptors, many descriptors woken
 * from other threads, poll(NULL, 0, ms) as a sleep, bad input (EFAULT,
 * EINVAL), ppoll's signal mask (EINTR for a pending signal it unblocks).
 * Built with _FORTIFY_SOURCE=2: poll and ppoll on arrays of known size go
 * through __poll_chk and __ppoll_chk. */
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>

#include "../sockets/fixture.h"

static void print_revents(const char* label, int r, short revents) {
  printf("%s: %d revents", label, r);
  if (revents & POLLIN) printf(" IN");
  if (revents & POLLPRI) printf(" PRI");
  if (revents & POLLOUT) printf(" OUT");
  if (revents & POLLRDHUP) printf(" RDHUP");
  if (revents & POLLERR) printf(" ERR");
  if (revents & POLLHUP) printf(" HUP");
  if (revents & POLLNVAL) printf(" NVAL");
  printf("\n");
}

static void* write_after(void* arg) {
  int fd = *(int*)arg;
  sleep_ms(40);
  write(fd, "x", 1);
  return NULL;
}

#define PAIRS 100
static int pairs[PAIRS][2];
static void* write_to_pair_42(void* arg) {
  (void)arg;
  sleep_ms(30);
  write(pairs[42][1], "!", 1);
  return NULL;
}

static volatile sig_atomic_t usr1;
/* Counts the compiler cannot see: the fortified poll and ppoll check them
 * at run time (__poll_chk, __ppoll_chk). */
static volatile nfds_t one = 1;
static void on_usr1(int sig) {
  (void)sig;
  usr1 = 1;
}

static void* poll_forever(void* arg) {
  struct pollfd* p = arg;
  return (void*)(long)poll(p, 1, -1);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  struct pollfd p[4];

  /* Timeouts. */
  double t0 = now_ms();
  SHOW("poll(NULL, 0, 60)", poll(NULL, 0, 60));
  printf("slept at least 60 ms: %s\n", now_ms() - t0 >= 59 ? "yes" : "no");
  p[0] = (struct pollfd){sp[0], POLLIN, 0};
  t0 = now_ms();
  struct pollfd idle[1] = {{sp[0], POLLIN, 0}};
  int r = poll(idle, one, 50);
  p[0] = idle[0];
  print_revents("idle socket, 50 ms", r, p[0].revents);
  printf("waited at least 50 ms: %s\n", now_ms() - t0 >= 49 ? "yes" : "no");
  r = poll(p, 1, 0);
  print_revents("idle socket, 0 ms", r, p[0].revents);

  /* Woken by another thread. */
  pthread_t th;
  pthread_create(&th, NULL, write_after, &sp[1]);
  t0 = now_ms();
  r = poll(p, 1, 5000);
  print_revents("woken by a write", r, p[0].revents);
  printf("woken early: %s\n", now_ms() - t0 < 4000 ? "yes" : "no");
  pthread_join(th, NULL);
  char c;
  read(sp[0], &c, 1);

  /* POLLOUT, and both at once. */
  p[0] = (struct pollfd){sp[0], POLLIN | POLLOUT, 0};
  r = poll(p, 1, 1000);
  print_revents("writable", r, p[0].revents);

  /* Peer shutdown: POLLRDHUP; peer closed: POLLHUP. */
  shutdown(sp[1], SHUT_WR);
  p[0] = (struct pollfd){sp[0], POLLIN | POLLRDHUP, 0};
  r = poll(p, 1, 1000);
  print_revents("peer shut down writing", r, p[0].revents);
  close(sp[1]);
  p[0] = (struct pollfd){sp[0], POLLIN, 0};
  r = poll(p, 1, 1000);
  print_revents("peer closed", r, p[0].revents);
  close(sp[0]);

  /* Pipes: POLLHUP on the read end, POLLERR on the write end. */
  int pp[2];
  CHECK(pipe(pp) == 0);
  close(pp[1]);
  p[0] = (struct pollfd){pp[0], POLLIN, 0};
  r = poll(p, 1, 1000);
  print_revents("pipe without writer", r, p[0].revents);
  close(pp[0]);
  CHECK(pipe(pp) == 0);
  close(pp[0]);
  p[0] = (struct pollfd){pp[1], POLLOUT, 0};
  r = poll(p, 1, 1000);
  print_revents("pipe without reader", r, p[0].revents);
  close(pp[1]);

  /* Out-of-band TCP data: POLLPRI, woken from another thread. */
  int port;
  int l = tcp_listener(4, &port);
  int cl = tcp_connect(port);
  int sv = accept(l, NULL, NULL);
  p[0] = (struct pollfd){sv, POLLPRI, 0};
  r = poll(p, 1, 30);
  print_revents("no urgent data yet", r, p[0].revents);
  send(cl, "u", 1, MSG_OOB);
  r = poll(p, 1, 1000);
  print_revents("urgent data", r, p[0].revents);
  close(cl);
  close(sv);
  close(l);

  /* Negative descriptors are skipped; a closed one is POLLNVAL. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  int closed = dup(sp[0]);
  close(closed);
  p[0] = (struct pollfd){-1, POLLIN, 7};
  p[1] = (struct pollfd){sp[0], POLLIN, 0};
  p[2] = (struct pollfd){closed, POLLIN, 0};
  r = poll(p, 3, 1000);
  printf("negative, idle, closed: %d; revents %d %d %s\n", r, p[0].revents, p[1].revents,
         p[2].revents == POLLNVAL ? "NVAL" : "?");
  r = poll(p, 2, 40);
  printf("negative and idle, 40 ms: %d\n", r);

  /* Many descriptors, one woken by another thread. */
  raise_nofile();
  struct pollfd many[PAIRS];
  for (int i = 0; i < PAIRS; ++i) {
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]) == 0);
    many[i] = (struct pollfd){pairs[i][0], POLLIN, 0};
  }
  pthread_create(&th, NULL, write_to_pair_42, NULL);
  r = poll(many, PAIRS, 5000);
  int which = -1;
  for (int i = 0; i < PAIRS; ++i) {
    if (many[i].revents) which = i;
  }
  printf("%d descriptors: %d ready, number %d\n", PAIRS, r, which);
  pthread_join(th, NULL);
  /* The same descriptor twice. */
  struct pollfd twice[2] = {{pairs[42][0], POLLIN, 0}, {pairs[42][0], POLLOUT, 0}};
  r = poll(twice, 2, 1000);
  print_revents("same descriptor twice, first", r, twice[0].revents);
  print_revents("same descriptor twice, second", r, twice[1].revents);
  for (int i = 0; i < PAIRS; ++i) {
    close(pairs[i][0]);
    close(pairs[i][1]);
  }

  /* Several threads polling the same descriptor are all woken. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  pthread_t pollers[3];
  struct pollfd shared[3];
  for (int i = 0; i < 3; ++i) {
    shared[i] = (struct pollfd){sp[0], POLLIN, 0};
    pthread_create(&pollers[i], NULL, poll_forever, &shared[i]);
  }
  sleep_ms(30);
  write(sp[1], "!", 1);
  int woken = 0;
  for (int i = 0; i < 3; ++i) {
    void* res;
    pthread_join(pollers[i], &res);
    woken += (long)res == 1 && shared[i].revents == POLLIN;
  }
  printf("threads polling one descriptor, woken: %d\n", woken);

  /* Bad input. */
  static struct pollfd* volatile bad_fds = (struct pollfd*)8;
  SHOW("poll bad pointer", poll(bad_fds, 1, 10));
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  struct pollfd* volatile unsized = p;
  SHOW("poll more than RLIMIT_NOFILE", poll(unsized, (nfds_t)rl.rlim_cur + 1, 10));
  struct timespec bad_ts = {0, 1000000000};
  SHOW("ppoll bad timeout", ppoll(p, 1, &bad_ts, NULL));
  struct timespec neg_ts = {-1, 0};
  SHOW("ppoll negative timeout", ppoll(p, 1, &neg_ts, NULL));

  /* ppoll: timeout, and a pending signal its mask unblocks. */
  struct timespec ts = {0, 50000000};
  p[0] = (struct pollfd){sp[0], POLLIN, 0};
  read(sp[0], &c, 1);
  t0 = now_ms();
  r = ppoll(p, one, &ts, NULL);
  printf("ppoll 50 ms: %d, waited: %s, timeout untouched: %s\n", r, now_ms() - t0 >= 49 ? "yes" : "no",
         ts.tv_nsec == 50000000 ? "yes" : "no");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  sigset_t block, old, unblocked;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  raise(SIGUSR1);
  printf("handler ran while blocked: %d\n", (int)usr1);
  sigemptyset(&unblocked);
  ts = (struct timespec){2, 0};
  SHOW("ppoll unblocking a pending signal", ppoll(p, 1, &ts, &unblocked));
  printf("handler ran: %d\n", (int)usr1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  write(sp[1], "!", 1);
  r = ppoll(p, 1, NULL, NULL);
  print_revents("ppoll without timeout, data there", r, p[0].revents);
  close(sp[0]);
  close(sp[1]);
  return 0;
}
