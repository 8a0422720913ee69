/* A program's own epoll instances: epoll_wait, epoll_pwait, epoll_pwait2
 * timeouts and wake-ups from other threads, several waiting threads,
 * EPOLLET and EPOLLONESHOT, dup'd descriptors (a registration outlives
 * close() while a dup keeps the file), closing the instance while a thread
 * waits on it, regular files (EPERM), bad input (EBADF, EINVAL, EFAULT,
 * EEXIST, ENOENT), epoll_pwait's signal mask. */
#include <signal.h>
#include <sys/epoll.h>

#include "../sockets/fixture.h"

static void* write_after(void* arg) {
  int fd = *(int*)arg;
  sleep_ms(40);
  write(fd, "x", 1);
  return NULL;
}

struct waiter {
  int ep;
  int result;
  int tag;
};

static void* wait_one(void* arg) {
  struct waiter* w = arg;
  struct epoll_event ev;
  w->result = epoll_wait(w->ep, &ev, 1, 3000);
  w->tag = w->result == 1 ? (int)ev.data.u32 : -1;
  return NULL;
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) {
  (void)sig;
  usr1 = 1;
}

static int add(int ep, int fd, uint32_t events, uint32_t tag) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = events;
  ev.data.u32 = tag;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  SHOW("add", add(ep, sp[0], EPOLLIN, 100));
  struct epoll_event evs[8];

  double t0 = now_ms();
  SHOW("epoll_wait idle, 50 ms", epoll_wait(ep, evs, 8, 50));
  printf("waited: %s\n", now_ms() - t0 >= 49 ? "yes" : "no");
  SHOW("epoll_wait idle, 0 ms", epoll_wait(ep, evs, 8, 0));

  pthread_t th;
  pthread_create(&th, NULL, write_after, &sp[1]);
  int n = epoll_wait(ep, evs, 8, -1);
  printf("woken by a write: %d, tag %u, EPOLLIN %d\n", n, evs[0].data.u32, (evs[0].events & EPOLLIN) != 0);
  pthread_join(th, NULL);
  /* Level-triggered: reported again until read. */
  SHOW("still readable", epoll_wait(ep, evs, 8, 0));
  char c;
  read(sp[0], &c, 1);

  /* Several threads waiting on one instance. */
  struct waiter ws[3];
  pthread_t wt[3];
  for (int i = 0; i < 3; ++i) {
    ws[i] = (struct waiter){ep, -2, -2};
    pthread_create(&wt[i], NULL, wait_one, &ws[i]);
  }
  sleep_ms(30);
  write(sp[1], "x", 1);
  int woke = 0;
  for (int i = 0; i < 3; ++i) {
    pthread_join(wt[i], NULL);
    woke += ws[i].result == 1 && ws[i].tag == 100;
  }
  printf("threads waiting on one instance, got the event: %d of 3\n", woke);
  read(sp[0], &c, 1);

  /* EPOLLONESHOT: one report, then nothing until re-armed. */
  int one[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, one) == 0);
  int ep2 = epoll_create(1);
  add(ep2, one[0], EPOLLIN | EPOLLONESHOT, 7);
  write(one[1], "ab", 2);
  SHOW("oneshot first", epoll_wait(ep2, evs, 8, 100));
  SHOW("oneshot again, 30 ms", epoll_wait(ep2, evs, 8, 30));
  struct epoll_event mod = {EPOLLIN | EPOLLONESHOT, {.u32 = 7}};
  SHOW("re-arm", epoll_ctl(ep2, EPOLL_CTL_MOD, one[0], &mod));
  SHOW("oneshot after re-arm", epoll_wait(ep2, evs, 8, 100));
  close(ep2);

  /* EPOLLET: one report per arrival. */
  int ep3 = epoll_create1(0);
  add(ep3, one[0], EPOLLIN | EPOLLET, 8);
  SHOW("edge-triggered, data already there", epoll_wait(ep3, evs, 8, 100));
  SHOW("edge-triggered, no new data, 30 ms", epoll_wait(ep3, evs, 8, 30));
  pthread_create(&th, NULL, write_after, &one[1]);
  SHOW("edge-triggered, new data from a thread", epoll_wait(ep3, evs, 8, 3000));
  pthread_join(th, NULL);
  close(ep3);
  close(one[0]);
  close(one[1]);

  /* dup'd descriptors: the registration of A stays while its dup B keeps
   * the file open, and keeps reporting A's data. */
  int d[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, d) == 0);
  int ep4 = epoll_create1(0);
  int a = d[0];
  int b = dup(a);
  SHOW("add A", add(ep4, a, EPOLLIN, 1));
  SHOW("add B (a dup of A)", add(ep4, b, EPOLLIN, 2));
  SHOW("add A again", add(ep4, a, EPOLLIN, 1));
  close(a);
  pthread_create(&th, NULL, write_after, &d[1]);
  n = epoll_wait(ep4, evs, 8, 3000);
  int saw1 = 0, saw2 = 0;
  for (int i = 0; i < n; ++i) {
    saw1 |= evs[i].data.u32 == 1;
    saw2 |= evs[i].data.u32 == 2;
  }
  printf("after close(A): %d events, A's %d, B's %d\n", n, saw1, saw2);
  pthread_join(th, NULL);
  struct epoll_event del;
  SHOW("delete closed A", epoll_ctl(ep4, EPOLL_CTL_DEL, a, &del));
  close(b);
  close(ep4);
  close(d[1]);

  /* Closing the instance while a thread waits on it: the wait goes on
   * (the kernel's epoll_wait keeps its file) and gets the event. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, d) == 0);
  int ep5 = epoll_create1(0);
  add(ep5, d[0], EPOLLIN, 55);
  struct waiter cw = {ep5, -2, -2};
  pthread_create(&th, NULL, wait_one, &cw);
  sleep_ms(40);
  SHOW("close the instance while waited on", close(ep5));
  sleep_ms(20);
  write(d[1], "x", 1);
  pthread_join(th, NULL);
  printf("the waiter got: %d, tag %d\n", cw.result, cw.tag);
  close(d[0]);
  close(d[1]);

  /* Bad input. */
  char path[] = "/tmp/greenhub-epoll-XXXXXX";
  int f = mkstemp(path);
  unlink(path);
  SHOW("add a regular file", add(ep, f, EPOLLIN, 9));
  close(f);
  SHOW("add twice", add(ep, sp[0], EPOLLIN, 100));
  SHOW("mod unknown", epoll_ctl(ep, EPOLL_CTL_MOD, sp[1], &mod));
  SHOW("add to itself", add(ep, ep, EPOLLIN, 0));
  SHOW("epoll_wait maxevents 0", epoll_wait(ep, evs, 0, 10));
  SHOW("epoll_wait on a socket", epoll_wait(sp[0], evs, 8, 10));
  SHOW("epoll_wait closed", epoll_wait(-1, evs, 8, 10));
  write(sp[1], "x", 1);
  static struct epoll_event* volatile bad_events = (struct epoll_event*)8;
  SHOW("epoll_wait bad events pointer", epoll_wait(ep, bad_events, 8, 10));
  SHOW("epoll_create 0", epoll_create(0));
  SHOW("epoll_create1 bad flags", epoll_create1(12345));
  static struct timespec* volatile bad_ts = (struct timespec*)8;
  SHOW("epoll_pwait2 bad timeout pointer", epoll_pwait2(ep, evs, 8, bad_ts, NULL));
  struct timespec ts = {0, 1000000000};
  SHOW("epoll_pwait2 bad timeout", epoll_pwait2(ep, evs, 8, &ts, NULL));
  read(sp[0], &c, 1);

  /* epoll_pwait2 timeout; epoll_pwait with a mask unblocking a pending
   * signal. */
  ts = (struct timespec){0, 40000000};
  t0 = now_ms();
  SHOW("epoll_pwait2 40 ms", epoll_pwait2(ep, evs, 8, &ts, NULL));
  printf("waited: %s\n", now_ms() - t0 >= 39 ? "yes" : "no");
  pthread_create(&th, NULL, write_after, &sp[1]);
  SHOW("epoll_pwait2 without timeout", epoll_pwait2(ep, evs, 8, NULL, NULL));
  pthread_join(th, NULL);
  read(sp[0], &c, 1);
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
  SHOW("epoll_pwait unblocking a pending signal", epoll_pwait(ep, evs, 8, 2000, &unblocked));
  printf("handler ran: %d\n", (int)usr1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(ep);
  close(sp[0]);
  close(sp[1]);
  return 0;
}
