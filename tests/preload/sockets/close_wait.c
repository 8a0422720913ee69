/* Closing a descriptor another thread is blocked on. Linux does not wake
 * the blocked call: it keeps the file it started with, so a recv still
 * gets what the peer writes later, an accept still gets the next
 * connection, a poll reports POLLNVAL at its timeout. The number itself is
 * free at once: the next socket reuses it, and activity on that new file
 * never wakes the old waiter. Same for dup2 and close_range onto it. */
#include <poll.h>

#include "fixture.h"

struct waiter {
  int fd;
  volatile int done;
  ssize_t result;
  int error;
  char buf[64];
};

static void* recv_waiter(void* arg) {
  struct waiter* w = arg;
  w->result = recv(w->fd, w->buf, sizeof w->buf, 0);
  w->error = errno;
  w->done = 1;
  return NULL;
}

static void* read_waiter(void* arg) {
  struct waiter* w = arg;
  w->result = read(w->fd, w->buf, sizeof w->buf);
  w->error = errno;
  w->done = 1;
  return NULL;
}

static void* accept_waiter(void* arg) {
  struct waiter* w = arg;
  w->result = accept(w->fd, NULL, NULL);
  w->error = errno;
  w->done = 1;
  return NULL;
}

static short poll_revents;
static void* poll_waiter(void* arg) {
  struct waiter* w = arg;
  struct pollfd p = {w->fd, POLLIN, 0};
  double t0 = now_ms();
  w->result = poll(&p, 1, 300);
  w->error = now_ms() - t0 >= 298 ? 0 : -1;
  poll_revents = p.revents;
  w->done = 1;
  return NULL;
}

static void report(const char* what, struct waiter* w) {
  if (w->result < 0) printf("%s: -1 %s\n", what, errname(w->error));
  else printf("%s: %ld '%.*s'\n", what, (long)w->result, (int)(w->result > 0 && w->result < 64 ? w->result : 0), w->buf);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_t th;

  /* recv, then close: the recv keeps waiting on its file; the number is
   * reused by a new socketpair whose traffic does not wake it. */
  int s[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  struct waiter w = {s[0], 0, 0, 0, {0}};
  pthread_create(&th, NULL, recv_waiter, &w);
  sleep_ms(50);
  SHOW("close while a recv waits", close(s[0]));
  sleep_ms(50);
  printf("recv still waiting after close: %s\n", w.done ? "no" : "yes");
  int n[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, n) == 0);
  printf("new socketpair reuses the number: %s\n", n[0] == s[0] || n[1] == s[0] ? "yes" : "no");
  int reused = n[0] == s[0] ? n[0] : n[1];
  int reused_peer = reused == n[0] ? n[1] : n[0];
  write(reused_peer, "new-file", 8);
  sleep_ms(50);
  printf("old recv woken by the new file's data: %s\n", w.done ? "yes" : "no");
  char buf[64];
  ssize_t got = recv(reused, buf, sizeof buf, 0);
  printf("new file's data read through the reused number: %ld '%.*s'\n", (long)got, (int)got, buf);
  write(s[1], "old-file", 8);
  pthread_join(th, NULL);
  report("old recv after the peer wrote", &w);
  close(s[1]);
  close(n[0]);
  close(n[1]);

  /* The same on a pipe, with read. */
  int p[2];
  CHECK(pipe(p) == 0);
  struct waiter pw = {p[0], 0, 0, 0, {0}};
  pthread_create(&th, NULL, read_waiter, &pw);
  sleep_ms(50);
  SHOW("close while a read waits", close(p[0]));
  sleep_ms(30);
  printf("read still waiting: %s\n", pw.done ? "no" : "yes");
  write(p[1], "pipe-data", 9);
  pthread_join(th, NULL);
  report("old read after the writer wrote", &pw);
  close(p[1]);

  /* Closing the write end while a read waits on the read end: EOF. */
  CHECK(pipe(p) == 0);
  struct waiter eof = {p[0], 0, 0, 0, {0}};
  pthread_create(&th, NULL, read_waiter, &eof);
  sleep_ms(30);
  close(p[1]);
  pthread_join(th, NULL);
  report("read when the writer closes", &eof);
  close(p[0]);

  /* accept, then close the listener: the accept still gets the next
   * connection (the listening socket lives on in the blocked call). */
  int port;
  int l = tcp_listener(8, &port);
  struct waiter aw = {l, 0, 0, 0, {0}};
  pthread_create(&th, NULL, accept_waiter, &aw);
  sleep_ms(50);
  SHOW("close while an accept waits", close(l));
  sleep_ms(30);
  printf("accept still waiting: %s\n", aw.done ? "no" : "yes");
  int c = tcp_connect(port);
  printf("connect to the closed listener's port: %s\n", c >= 0 ? "ok" : errname(errno));
  pthread_join(th, NULL);
  printf("accept after close: %s\n", aw.result >= 0 ? "a connection" : errname(aw.error));
  if (aw.result >= 0) close((int)aw.result);
  close(c);
  c = tcp_connect(port);
  printf("connect once nothing holds the listener: %s\n", c >= 0 ? "ok" : errname(errno));
  if (c >= 0) close(c);

  /* dup2 onto a descriptor a recv waits on. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  int other[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, other) == 0);
  struct waiter dw = {s[0], 0, 0, 0, {0}};
  pthread_create(&th, NULL, recv_waiter, &dw);
  sleep_ms(50);
  SHOW("dup2 onto the waited descriptor", dup2(other[0], s[0]) == s[0]);
  write(other[1], "via-dup2", 8);
  sleep_ms(50);
  printf("recv woken by the new file: %s\n", dw.done ? "yes" : "no");
  got = recv(s[0], buf, sizeof buf, 0);
  printf("the number now reads the new file: %ld '%.*s'\n", (long)got, (int)got, buf);
  write(s[1], "original", 8);
  pthread_join(th, NULL);
  report("recv after dup2", &dw);
  close(s[0]);
  close(s[1]);
  close(other[0]);
  close(other[1]);

  /* close_range over a waited descriptor. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  struct waiter rw = {s[0], 0, 0, 0, {0}};
  pthread_create(&th, NULL, recv_waiter, &rw);
  sleep_ms(50);
  SHOW("close_range over it", close_range((unsigned)s[0], (unsigned)s[0], 0));
  SHOW("fcntl on the closed number", fcntl(s[0], F_GETFD));
  write(s[1], "ranged", 6);
  pthread_join(th, NULL);
  report("recv after close_range", &rw);
  close(s[1]);

  /* poll, then close: poll sleeps to its timeout, then reports POLLNVAL. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
  struct waiter qw = {s[0], 0, 0, 0, {0}};
  pthread_create(&th, NULL, poll_waiter, &qw);
  sleep_ms(50);
  close(s[0]);
  pthread_join(th, NULL);
  printf("poll after close: %ld, revents POLLNVAL: %s, waited the timeout: %s\n", (long)qw.result,
         poll_revents == POLLNVAL ? "yes" : "no", qw.error == 0 ? "yes" : "no");
  close(s[1]);
  return 0;
}
