/* A read that follows a short read on a TCP socket (the preload may park
 * it before any attempt: preload/drained_input.hpp). Every case makes data
 * wait in the socket where a wrong "still drained" guess would leave the
 * reader parked (a hang: the harness's timeout) or answer EAGAIN: data
 * sent in two parts with a pause, two readers on one socket, a dup'd
 * descriptor, MSG_PEEK, poll, the program's O_NONBLOCK, urgent data (a
 * read stops at the mark), a number reused after close, fork, EOF and a
 * reset (readable with no new edge), and SO_RCVTIMEO after a short read. */
#include <poll.h>
#include <sys/wait.h>

#include "fixture.h"

struct conn {
  int client;  /* the peer's end */
  int server;  /* the end under test */
};

static struct conn connect_pair(int listener, int port) {
  struct conn c;
  c.client = tcp_connect(port);
  CHECK(c.client >= 0);
  c.server = accept(listener, NULL, NULL);
  CHECK(c.server >= 0);
  return c;
}

static void close_pair(struct conn* c) {
  close(c->client);
  close(c->server);
}

/* Sends `text` after `delay_ms`, from a thread of its own. */
struct delayed_send {
  int fd;
  int delay_ms;
  const char* text;
  pthread_t thread;
};

static void* delayed_send_main(void* arg) {
  struct delayed_send* d = arg;
  sleep_ms(d->delay_ms);
  CHECK(send(d->fd, d->text, strlen(d->text), 0) == (ssize_t)strlen(d->text));
  return NULL;
}

static void send_later(struct delayed_send* d, int fd, int delay_ms, const char* text) {
  d->fd = fd;
  d->delay_ms = delay_ms;
  d->text = text;
  CHECK(pthread_create(&d->thread, NULL, delayed_send_main, d) == 0);
}

/* A blocking read that waited (so the socket's pollers watch it), then a
 * short read: the state the preload marks as drained. */
static void drain_after_wait(struct conn* c) {
  struct delayed_send d;
  char buf[256];
  send_later(&d, c->client, 30, "abc");
  ssize_t n = read(c->server, buf, sizeof buf); /* parks, then 3 < 256 */
  CHECK(n == 3);
  pthread_join(d.thread, NULL);
}

static void show_read(const char* label, int fd, int flags) {
  char buf[256];
  errno = 0;
  ssize_t n = recv(fd, buf, sizeof buf, flags);
  if (n < 0) printf("%s: -1 %s\n", label, errname(errno));
  else printf("%s: %ld \"%.*s\"\n", label, (long)n, (int)n, buf);
  fflush(stdout);
}

/* --- ping-pong with requests sent in two parts ---------------------------- */

/* A thread reading one socket until EOF: the bytes it got. */
struct reader_args {
  int fd;
  long bytes;
};

/* Echoes lines until EOF, reading into a large buffer (every read short). */
static void* line_echo_main(void* arg) {
  struct reader_args* a = arg;
  char buf[4096];
  for (;;) {
    ssize_t n = read(a->fd, buf, sizeof buf);
    if (n <= 0) break;
    a->bytes += n;
    CHECK(send(a->fd, buf, (size_t)n, 0) == n);
  }
  return NULL;
}

static void ping_pong_in_two_parts(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  struct reader_args a = {c.server, 0};
  pthread_t echo;
  CHECK(pthread_create(&echo, NULL, line_echo_main, &a) == 0);
  int intact = 1;
  for (int i = 0; i < 20; ++i) {
    char first[32], second[32], expect[64], got[64];
    snprintf(first, sizeof first, "request %d ", i);
    snprintf(second, sizeof second, "part two %d\n", i);
    snprintf(expect, sizeof expect, "%s%s", first, second);
    CHECK(send(c.client, first, strlen(first), 0) == (ssize_t)strlen(first));
    sleep_ms(i % 4 == 0 ? 20 : 2); /* the echo thread drains and reads again */
    CHECK(send(c.client, second, strlen(second), 0) == (ssize_t)strlen(second));
    size_t have = 0;
    while (have < strlen(expect)) {
      ssize_t n = read(c.client, got + have, strlen(expect) - have);
      CHECK(n > 0);
      have += (size_t)n;
    }
    intact = intact && memcmp(got, expect, have) == 0;
  }
  shutdown(c.client, SHUT_WR);
  pthread_join(echo, NULL);
  printf("two-part ping-pong: 20 requests, intact %d, echoed %ld bytes\n", intact, a.bytes);
  close_pair(&c);
}

/* --- two readers on one socket ---------------------------------------------- */

static void* reader_main(void* arg) {
  struct reader_args* r = arg;
  char buf[512];
  for (;;) {
    ssize_t n = read(r->fd, buf, sizeof buf);
    if (n <= 0) break;
    r->bytes += n;
  }
  return NULL;
}

static void two_readers(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  struct reader_args r1 = {c.server, 0}, r2 = {c.server, 0};
  pthread_t t1, t2;
  CHECK(pthread_create(&t1, NULL, reader_main, &r1) == 0);
  CHECK(pthread_create(&t2, NULL, reader_main, &r2) == 0);
  char chunk[100];
  memset(chunk, 'x', sizeof chunk);
  long sent = 0;
  for (int i = 0; i < 60; ++i) {
    size_t len = (size_t)(1 + (i * 37) % 100);
    CHECK(send(c.client, chunk, len, 0) == (ssize_t)len);
    sent += (long)len;
    if (i % 3 == 0) sleep_ms(3);
  }
  shutdown(c.client, SHUT_WR);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  printf("two readers: sent %ld, read %ld\n", sent, r1.bytes + r2.bytes);
  close_pair(&c);
}

/* --- one reader, data waiting already ----------------------------------------- */

/* The reader sends to itself: nothing parks between the send and the read,
 * so the socket's input edge is not drained yet when the read starts. */
static void data_sent_by_the_reader(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  CHECK(send(c.client, "de", 2, 0) == 2);
  sleep_ms(20); /* the data is there; an edge may or may not be drained */
  show_read("same thread, after a pause", c.server, 0);
  CHECK(send(c.client, "fg", 2, 0) == 2);
  show_read("same thread, at once", c.server, 0);
  close_pair(&c);
}

static void dup_descriptor(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  int other = dup(c.server);
  CHECK(other >= 0);
  CHECK(send(c.client, "via dup", 7, 0) == 7);
  sleep_ms(20);
  show_read("dup: read via the other number", other, 0);
  CHECK(send(c.client, "via first", 9, 0) == 9);
  sleep_ms(20);
  show_read("dup: read via the first number", c.server, 0);
  /* Short reads through both numbers, then data read through neither yet. */
  CHECK(send(c.client, "x", 1, 0) == 1);
  show_read("dup: short via other", other, 0);
  CHECK(send(c.client, "y", 1, 0) == 1);
  show_read("dup: short via first", c.server, 0);
  close(other);
  CHECK(send(c.client, "after close of the dup", 22, 0) == 22);
  sleep_ms(20);
  show_read("dup: first after the dup's close", c.server, 0);
  close_pair(&c);
}

static void peek_then_read(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  CHECK(send(c.client, "peeked", 6, 0) == 6);
  sleep_ms(20);
  show_read("peek", c.server, MSG_PEEK);
  show_read("read after peek", c.server, 0);
  /* A peek as the call after the short read, data coming later. */
  struct delayed_send d;
  send_later(&d, c.client, 30, "later");
  show_read("peek waits", c.server, MSG_PEEK);
  pthread_join(d.thread, NULL);
  show_read("read after waiting peek", c.server, 0);
  close_pair(&c);
}

static void poll_then_read(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  struct delayed_send d;
  send_later(&d, c.client, 30, "polled");
  struct pollfd p = {c.server, POLLIN, 0};
  SHOW("poll", poll(&p, 1, 5000));
  printf("poll revents POLLIN %d\n", (p.revents & POLLIN) != 0);
  pthread_join(d.thread, NULL);
  show_read("read after poll", c.server, 0);
  /* Data there before the poll: poll answers at once. */
  CHECK(send(c.client, "ready", 5, 0) == 5);
  sleep_ms(20);
  SHOW("poll ready", poll(&p, 1, 5000));
  show_read("read after ready poll", c.server, 0);
  close_pair(&c);
}

static void program_nonblock(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  set_nonblock(c.server, 1);
  double t0 = now_ms();
  show_read("nonblock, empty", c.server, 0);
  printf("nonblock answered at once %d\n", now_ms() - t0 < 500);
  CHECK(send(c.client, "nb", 2, 0) == 2);
  sleep_ms(20);
  show_read("nonblock, data", c.server, 0);
  /* Data sent by this thread, no park in between: there at once. */
  CHECK(send(c.client, "n2", 2, 0) == 2);
  show_read("nonblock, data at once", c.server, 0);
  show_read("nonblock, empty again", c.server, 0);
  set_nonblock(c.server, 0);
  CHECK(send(c.client, "blocking again", 14, 0) == 14);
  show_read("blocking again", c.server, 0);
  /* MSG_DONTWAIT after a short read. */
  show_read("dontwait, empty", c.server, MSG_DONTWAIT);
  close_pair(&c);
}

static void urgent_data(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  CHECK(send(c.client, "ab", 2, 0) == 2);
  sleep_ms(10);
  CHECK(send(c.client, "!", 1, MSG_OOB) == 1);
  CHECK(send(c.client, "cd", 2, 0) == 2);
  sleep_ms(30); /* the pollers see it all */
  char got[16];
  size_t have = 0;
  while (have < 4) {
    ssize_t n = read(c.server, got + have, sizeof got - have);
    CHECK(n > 0);
    have += (size_t)n;
  }
  printf("urgent: read \"%.*s\" around the mark\n", (int)have, got);
  close_pair(&c);
}

static void reuse_after_close(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  int client2 = tcp_connect(port); /* queued: accepted after the close */
  CHECK(client2 >= 0);
  CHECK(send(client2, "new file", 8, 0) == 8);
  sleep_ms(20);
  int old_number = c.server;
  close(c.server);
  int server2 = accept(listener, NULL, NULL);
  CHECK(server2 >= 0);
  printf("reuse: same number %d\n", server2 == old_number);
  show_read("reuse: read of the new file", server2, 0);
  close(client2);
  close(server2);
  close(c.client);
}

static void after_fork(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    CHECK(send(c.client, "child", 5, 0) == 5);
    char buf[64];
    ssize_t n = read(c.server, buf, sizeof buf);
    _exit(n == 5 && memcmp(buf, "child", 5) == 0 ? 0 : 1);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  printf("fork: child read its data %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(send(c.client, "parent", 6, 0) == 6);
  show_read("fork: parent", c.server, 0);
  close_pair(&c);
}

/* EOF and a reset stay readable with no further input edge. */
static void end_of_input(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  CHECK(send(c.client, "last", 4, 0) == 4);
  shutdown(c.client, SHUT_WR);
  sleep_ms(20);
  show_read("eof: data", c.server, 0);
  show_read("eof: end", c.server, 0);
  show_read("eof: end again", c.server, 0);
  close_pair(&c);

  c = connect_pair(listener, port);
  drain_after_wait(&c);
  CHECK(send(c.client, "gone", 4, 0) == 4);
  struct linger hard = {1, 0};
  CHECK(setsockopt(c.client, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
  close(c.client); /* a reset */
  sleep_ms(20);
  show_read("reset: first", c.server, 0);
  show_read("reset: second", c.server, 0);
  show_read("reset: third", c.server, 0);
  close(c.server);

  /* The end comes while the reader waits, after a short read. */
  c = connect_pair(listener, port);
  drain_after_wait(&c);
  struct delayed_send d;
  send_later(&d, c.client, 20, "bye");
  show_read("late eof: data", c.server, 0);
  pthread_join(d.thread, NULL);
  shutdown(c.client, SHUT_WR);
  show_read("late eof: end", c.server, 0);
  close_pair(&c);
}

static void receive_timeout(int listener, int port) {
  struct conn c = connect_pair(listener, port);
  drain_after_wait(&c);
  struct timeval tv = {0, 200000};
  CHECK(setsockopt(c.server, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  double t0 = now_ms();
  show_read("timeout, empty", c.server, 0);
  double waited = now_ms() - t0;
  printf("timeout waited about 200 ms %d\n", waited >= 150 && waited < 2000);
  struct delayed_send d;
  send_later(&d, c.client, 50, "in time");
  show_read("timeout, data in time", c.server, 0);
  pthread_join(d.thread, NULL);
  close_pair(&c);
}

int main(void) {
  int port;
  int listener = tcp_listener(16, &port);
  ping_pong_in_two_parts(listener, port);
  two_readers(listener, port);
  data_sent_by_the_reader(listener, port);
  dup_descriptor(listener, port);
  peek_then_read(listener, port);
  poll_then_read(listener, port);
  program_nonblock(listener, port);
  urgent_data(listener, port);
  reuse_after_close(listener, port);
  after_fork(listener, port);
  end_of_input(listener, port);
  receive_timeout(listener, port);
  close(listener);
  printf("done\n");
  return 0;
}
