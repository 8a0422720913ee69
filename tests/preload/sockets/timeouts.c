/* Socket timeouts: SO_RCVTIMEO ends recv, read, recvmsg and accept with
 * EAGAIN after the timeout; SO_SNDTIMEO ends a send on a full socket with
 * the bytes sent so far, or EAGAIN; a connect that cannot complete (a full
 * listen backlog) ends after SO_SNDTIMEO with EINPROGRESS (TCP) or EAGAIN
 * (Unix), and completes once the listener makes room. */
#include <stddef.h>
#include <sys/un.h>

#include "fixture.h"

static void set_timeout(int fd, int opt, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

#define TIMED(label, expr, min_ms)                                                       \
  do {                                                                                   \
    double t0_ = now_ms();                                                               \
    errno = 0;                                                                           \
    long r_ = (long)(expr);                                                              \
    int e_ = errno;                                                                      \
    double dt_ = now_ms() - t0_;                                                         \
    printf("%s: %ld %s, waited the timeout: %s\n", (label), r_, r_ < 0 ? errname(e_) : "", \
           dt_ >= (min_ms) - 2 && dt_ < (min_ms) + 2000 ? "yes" : "no");                  \
  } while (0)

static void* accept_after(void* arg) {
  int l = *(int*)arg;
  sleep_ms(100);
  int a = accept(l, NULL, NULL);
  sleep_ms(100);
  return (void*)(long)a;
}

static void* send_later(void* arg) {
  int fd = *(int*)arg;
  sleep_ms(30);
  send(fd, "late", 4, 0);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char buf[4096];
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);

  set_timeout(sp[0], SO_RCVTIMEO, 80);
  struct timeval got;
  socklen_t len = sizeof got;
  getsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &got, &len);
  printf("SO_RCVTIMEO reads back %ld ms\n", (long)(got.tv_sec * 1000 + got.tv_usec / 1000));
  TIMED("recv", recv(sp[0], buf, sizeof buf, 0), 80);
  TIMED("read", read(sp[0], buf, sizeof buf), 80);
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  TIMED("recvmsg", recvmsg(sp[0], &msg, 0), 80);
  /* Data before the timeout: returned at once. */
  pthread_t th;
  pthread_create(&th, NULL, send_later, &sp[1]);
  ssize_t n = recv(sp[0], buf, sizeof buf, 0);
  printf("recv with data before the timeout: %ld\n", (long)n);
  pthread_join(th, NULL);
  /* MSG_WAITALL: part of it, then the timeout: the part. */
  send(sp[1], "part", 4, 0);
  TIMED("recv MSG_WAITALL 100 bytes, 4 there", recv(sp[0], buf, 100, MSG_WAITALL), 80);
  /* The timeout is shared with a dup. */
  int d = dup(sp[0]);
  set_timeout(d, SO_RCVTIMEO, 40);
  TIMED("recv on the original after SO_RCVTIMEO on its dup", recv(sp[0], buf, sizeof buf, 0), 40);
  close(d);
  set_timeout(sp[0], SO_RCVTIMEO, 0);

  /* SO_SNDTIMEO on a full socket. */
  set_timeout(sp[1], SO_SNDTIMEO, 60);
  long queued = fill_socket(sp[1]);
  printf("filled: %s\n", queued > 0 ? "yes" : "no");
  TIMED("send on a full socket", send(sp[1], buf, sizeof buf, 0), 60);
  TIMED("write on a full socket", write(sp[1], buf, sizeof buf), 60);
  close(sp[0]);
  close(sp[1]);

  /* accept with SO_RCVTIMEO. */
  int port;
  int l = tcp_listener(0, &port);
  set_timeout(l, SO_RCVTIMEO, 70);
  TIMED("accept", accept(l, NULL, NULL), 70);

  /* A TCP connect into a full backlog: the SYN is dropped, the connect
   * times out with EINPROGRESS after SO_SNDTIMEO. */
  int first = tcp_connect(port);
  printf("first connect: %s\n", first >= 0 ? "ok" : errname(errno));
  int c = socket(AF_INET, SOCK_STREAM, 0);
  set_timeout(c, SO_SNDTIMEO, 150);
  struct sockaddr_in a = loopback(port);
  TIMED("connect into a full backlog", connect(c, (struct sockaddr*)&a, sizeof a), 150);
  TIMED("connect again while in progress", connect(c, (struct sockaddr*)&a, sizeof a), 150);
  close(c);
  close(first);
  close(l);

  /* Unix: the listener's backlog is full. */
  struct sockaddr_un ua;
  memset(&ua, 0, sizeof ua);
  ua.sun_family = AF_UNIX;
  snprintf(ua.sun_path + 1, sizeof ua.sun_path - 1, "greenhub-timeouts-%d", (int)getpid());
  socklen_t ulen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ua.sun_path + 1));
  int ul = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(bind(ul, (struct sockaddr*)&ua, ulen) == 0);
  CHECK(listen(ul, 0) == 0);
  int u1 = socket(AF_UNIX, SOCK_STREAM, 0);
  SHOW("unix connect 1", connect(u1, (struct sockaddr*)&ua, ulen));
  int u2 = socket(AF_UNIX, SOCK_STREAM, 0);
  set_timeout(u2, SO_SNDTIMEO, 90);
  TIMED("unix connect into a full backlog", connect(u2, (struct sockaddr*)&ua, ulen), 90);
  /* Without a timeout it waits until the listener accepts. */
  int u3 = socket(AF_UNIX, SOCK_STREAM, 0);
  pthread_create(&th, NULL, accept_after, &ul);
  TIMED("unix connect that waits for an accept", connect(u3, (struct sockaddr*)&ua, ulen), 100);
  void* accepted;
  pthread_join(th, &accepted);
  printf("accepted: %s\n", (long)accepted >= 0 ? "yes" : "no");
  close(u1);
  close(u2);
  close(u3);
  close(ul);
  return 0;
}
