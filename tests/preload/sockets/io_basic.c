/* Reading and writing on sockets and pipes, between threads: read, write,
 * readv, writev, recv, send, recvfrom, sendto, recvmsg, sendmsg (with
 * SCM_RIGHTS), recvmmsg, sendmmsg, MSG_PEEK, MSG_WAITALL, large transfers
 * that need many partial writes (checksummed), a peer's half-close, EOF,
 * zero-length calls. Built with _FORTIFY_SOURCE=2, so read, recv and
 * recvfrom into arrays go through __read_chk, __recv_chk, __recvfrom_chk. */
#include <sys/uio.h>
#include <sys/un.h>

#include "fixture.h"

static int pair[2];
/* Lengths the compiler cannot see: the fortified read, recv and recvfrom
 * check them at run time (__read_chk, __recv_chk, __recvfrom_chk). */
static volatile size_t len256 = 256;

static unsigned long checksum(const unsigned char* p, size_t n, unsigned long h) {
  for (size_t i = 0; i < n; ++i) h = h * 131 + p[i];
  return h;
}

#define BIG (4 * 1024 * 1024)

struct transfer {
  int fd;
  unsigned long sum;
  long bytes;
  int use_readv;
};

static void* big_reader(void* arg) {
  struct transfer* t = arg;
  char buf[65536];
  for (;;) {
    ssize_t n;
    if (t->use_readv) {
      struct iovec iov[2] = {{buf, 1000}, {buf + 1000, sizeof buf - 1000}};
      n = readv(t->fd, iov, 2);
    } else {
      n = read(t->fd, buf, sizeof buf);
    }
    if (n <= 0) break;
    t->sum = checksum((unsigned char*)buf, (size_t)n, t->sum);
    t->bytes += n;
  }
  return NULL;
}

static void big_transfer(const char* what, int wfd, int rfd, int use_writev) {
  unsigned char* data = malloc(BIG);
  for (size_t i = 0; i < BIG; ++i) data[i] = (unsigned char)(i * 7 + (i >> 13));
  struct transfer t = {rfd, 0, 0, use_writev};
  pthread_t th;
  pthread_create(&th, NULL, big_reader, &t);
  ssize_t w;
  if (use_writev) {
    struct iovec iov[3] = {{data, 1}, {data + 1, BIG / 2}, {data + 1 + BIG / 2, BIG - 1 - BIG / 2}};
    w = writev(wfd, iov, 3);
  } else {
    w = write(wfd, data, BIG);
  }
  close(wfd);
  pthread_join(th, NULL);
  printf("%s: wrote %ld read %ld checksum %s\n", what, (long)w, t.bytes,
         t.sum == checksum(data, BIG, 0) ? "ok" : "BAD");
  close(rfd);
  free(data);
}

static void* delayed_writer(void* arg) {
  int fd = *(int*)arg;
  for (int i = 0; i < 4; ++i) {
    sleep_ms(20);
    write(fd, "abcd", 4);
  }
  return NULL;
}

static ssize_t peer_first, peer_second;

static void* half_close_peer(void* arg) {
  int fd = *(int*)arg;
  char buf[64];
  peer_first = read(fd, buf, sizeof buf);
  peer_second = read(fd, buf, sizeof buf);  /* EOF after the half-close */
  write(fd, "reply", 5);
  close(fd);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char buf[256];

  /* Stream socketpair: a blocked read woken by a write from another thread. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  pthread_t th;
  pthread_create(&th, NULL, delayed_writer, &pair[1]);
  ssize_t n = read(pair[0], buf, len256);
  printf("first read %ld\n", (long)n);
  /* MSG_WAITALL waits for all 12 remaining bytes across three writes. */
  n = recv(pair[0], buf, 12, MSG_WAITALL);
  printf("waitall %ld '%.*s'\n", (long)n, (int)n, buf);
  pthread_join(th, NULL);

  /* MSG_PEEK leaves the data. */
  send(pair[1], "peekaboo", 8, 0);
  n = recv(pair[0], buf, 4, MSG_PEEK);
  printf("peek %ld '%.*s'\n", (long)n, (int)n, buf);
  n = recvfrom(pair[0], buf, len256, 0, NULL, NULL);
  printf("recvfrom %ld '%.*s'\n", (long)n, (int)n, buf);

  /* readv / writev. */
  struct iovec out[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
  SHOW("writev", writev(pair[1], out, 3));
  char a[5], b[20];
  struct iovec in[2] = {{a, sizeof a}, {b, sizeof b}};
  n = readv(pair[0], in, 2);
  printf("readv %ld '%.5s' '%.*s'\n", (long)n, a, (int)(n - 5), b);

  /* Zero-length calls. */
  SHOW("read 0", read(pair[0], buf, 0));
  SHOW("write 0", write(pair[1], buf, 0));
  SHOW("send 0", send(pair[1], buf, 0, 0));

  /* sendmsg / recvmsg with a descriptor passed along (SCM_RIGHTS): the
   * received descriptor works for blocking reads. */
  int p[2];
  CHECK(pipe(p) == 0);
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {"fd", 2};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  SHOW("sendmsg", sendmsg(pair[1], &msg, 0));
  memset(&control, 0, sizeof control);
  char got[8];
  struct iovec riov = {got, sizeof got};
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &riov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  n = recvmsg(pair[0], &msg, 0);
  c = CMSG_FIRSTHDR(&msg);
  int passed = -1;
  if (c != NULL && c->cmsg_type == SCM_RIGHTS) memcpy(&passed, CMSG_DATA(c), sizeof(int));
  printf("recvmsg %ld '%.*s' got a descriptor: %s\n", (long)n, (int)n, got, passed >= 0 ? "yes" : "no");
  close(p[0]);
  pthread_create(&th, NULL, delayed_writer, &p[1]);
  n = read(passed, buf, 4);
  printf("read on the passed descriptor %ld '%.*s'\n", (long)n, (int)n, buf);
  pthread_join(th, NULL);
  close(passed);
  close(p[1]);

  /* Half-close: the peer sees EOF, then can still answer. */
  pthread_create(&th, NULL, half_close_peer, &pair[1]);
  write(pair[0], "hello", 5);
  sleep_ms(20);
  SHOW("shutdown SHUT_WR", shutdown(pair[0], SHUT_WR));
  n = read(pair[0], buf, sizeof buf);
  printf("reply %ld '%.*s'\n", (long)n, (int)n, buf);
  SHOW("read at EOF", read(pair[0], buf, sizeof buf));
  SHOW("recv at EOF", recv(pair[0], buf, sizeof buf, 0));
  pthread_join(th, NULL);
  printf("peer read %ld, then %ld after the half-close\n", (long)peer_first, (long)peer_second);
  close(pair[0]);

  /* Datagrams: sendto/recvfrom keep message boundaries; recvmmsg and
   * sendmmsg move several at once. */
  int d[2];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, d) == 0);
  SHOW("sendto", sendto(d[1], "dgram-one", 9, 0, NULL, 0));
  SHOW("send", send(d[1], "two", 3, 0));
  SHOW("recv 4 of 9 (truncated)", recv(d[0], buf, 4, 0));
  SHOW("recv next datagram", recv(d[0], buf, len256, 0));
  struct mmsghdr mm[3];
  struct iovec miov[3];
  char mbuf[3][16];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < 3; ++i) {
    miov[i].iov_base = mbuf[i];
    miov[i].iov_len = sizeof mbuf[i];
    mm[i].msg_hdr.msg_iov = &miov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  struct mmsghdr sm[3];
  struct iovec siov[3] = {{"m0", 2}, {"m11", 3}, {"m222", 4}};
  memset(sm, 0, sizeof sm);
  for (int i = 0; i < 3; ++i) {
    sm[i].msg_hdr.msg_iov = &siov[i];
    sm[i].msg_hdr.msg_iovlen = 1;
  }
  SHOW("sendmmsg", sendmmsg(d[1], sm, 3, 0));
  int got_mm = recvmmsg(d[0], mm, 3, 0, NULL);
  printf("recvmmsg %d:", got_mm);
  for (int i = 0; i < got_mm; ++i) printf(" '%.*s'", (int)mm[i].msg_len, mbuf[i]);
  printf("\n");
  /* MSG_WAITFORONE: blocks for the first, returns with what is there. */
  pthread_create(&th, NULL, delayed_writer, &d[1]);
  got_mm = recvmmsg(d[0], mm, 3, MSG_WAITFORONE, NULL);
  printf("recvmmsg WAITFORONE %d first '%.*s'\n", got_mm, (int)mm[0].msg_len, mbuf[0]);
  pthread_join(th, NULL);
  /* A blocking recvmmsg waits for all vlen datagrams (the timeout is only
   * looked at after each datagram). */
  while (recv(d[0], buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
  pthread_create(&th, NULL, delayed_writer, &d[1]);
  struct timespec tmo = {5, 0};
  got_mm = recvmmsg(d[0], mm, 3, 0, &tmo);
  printf("recvmmsg all %d, timeout left below 5 s: %s\n", got_mm,
         (tmo.tv_sec < 5 && tmo.tv_sec >= 4) ? "yes" : "no");
  pthread_join(th, NULL);
  SHOW("recvmmsg bad timeout", recvmmsg(d[0], mm, 3, 0, &(struct timespec){0, 1000000000}));
  close(d[0]);
  close(d[1]);

  /* Large transfers, many partial writes, between threads. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  big_transfer("unix stream write/read", pair[1], pair[0], 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  big_transfer("unix stream writev/readv", pair[1], pair[0], 1);
  CHECK(pipe(p) == 0);
  big_transfer("pipe write/read", p[1], p[0], 0);
  int port;
  int l = tcp_listener(8, &port);
  int cfd = tcp_connect(port);
  int sfd = accept(l, NULL, NULL);
  CHECK(cfd >= 0 && sfd >= 0);
  big_transfer("tcp write/read", cfd, sfd, 0);
  close(l);
  return 0;
}
