/* The program's own O_NONBLOCK decides: set with F_SETFL, FIONBIO,
 * SOCK_NONBLOCK, pipe2(O_NONBLOCK), or per call with MSG_DONTWAIT, a call
 * that would block fails with EAGAIN; F_GETFL reports what the program set
 * (also on a listening socket that blocking accepts were made on); dup'd
 * descriptors share the flag; a non-blocking connect is EINPROGRESS. */
#include <poll.h>
#include <sys/ioctl.h>

#include "fixture.h"

static int nonblock_flag(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

static void* connect_later(void* arg) {
  int port = *(int*)arg;
  sleep_ms(30);
  int fd = tcp_connect(port);
  sleep_ms(50);
  close(fd);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char buf[64];
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);

  printf("socketpair starts blocking: %d\n", nonblock_flag(sp[0]));
  SHOW("recv MSG_DONTWAIT", recv(sp[0], buf, sizeof buf, MSG_DONTWAIT));
  set_nonblock(sp[0], 1);
  printf("after F_SETFL: %d\n", nonblock_flag(sp[0]));
  SHOW("read on non-blocking", read(sp[0], buf, sizeof buf));
  SHOW("recv on non-blocking", recv(sp[0], buf, sizeof buf, 0));
  SHOW("recvfrom on non-blocking", recvfrom(sp[0], buf, sizeof buf, 0, NULL, NULL));
  int off = 0;
  SHOW("FIONBIO 0", ioctl(sp[0], FIONBIO, &off));
  printf("after FIONBIO 0: %d\n", nonblock_flag(sp[0]));
  int on = 1;
  SHOW("FIONBIO 1", ioctl(sp[1], FIONBIO, &on));
  long queued = fill_socket(sp[1]);
  printf("filled: %s\n", queued > 0 ? "yes" : "no");
  SHOW("send on a full non-blocking socket", send(sp[1], buf, sizeof buf, 0));
  SHOW("write on a full non-blocking socket", write(sp[1], buf, sizeof buf));

  /* dup'd descriptors share the open file's flag. */
  int d = dup(sp[0]);
  set_nonblock(d, 1);
  printf("original after F_SETFL on the dup: %d\n", nonblock_flag(sp[0]));
  SHOW("recv on the original", recv(sp[0], buf, 1, 0));
  ioctl(sp[0], FIONBIO, &off);
  printf("dup after FIONBIO 0 on the original: %d\n", nonblock_flag(d));
  close(d);
  close(sp[0]);
  close(sp[1]);

  /* SOCK_NONBLOCK. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0);
  printf("SOCK_NONBLOCK socketpair: %d\n", nonblock_flag(sp[0]));
  SHOW("recv", recv(sp[0], buf, 1, 0));
  close(sp[0]);
  close(sp[1]);

  /* Pipes. */
  int p[2];
  CHECK(pipe2(p, O_NONBLOCK) == 0);
  printf("pipe2 O_NONBLOCK: %d %d\n", nonblock_flag(p[0]), nonblock_flag(p[1]));
  SHOW("read empty non-blocking pipe", read(p[0], buf, sizeof buf));
  long total = 0;
  for (;;) {
    ssize_t n = write(p[1], buf, sizeof buf);
    if (n < 0) break;
    total += n;
  }
  printf("pipe filled to %ld then %s\n", total, errname(errno));
  close(p[0]);
  close(p[1]);

  /* A listening socket: F_GETFL shows the program's flag before and after
   * blocking accepts, and the program can make it non-blocking. */
  int port;
  int l = tcp_listener(8, &port);
  printf("listener before accept: %d\n", nonblock_flag(l));
  pthread_t th;
  pthread_create(&th, NULL, connect_later, &port);
  int a = accept(l, NULL, NULL);
  printf("accepted: %s, new socket non-blocking: %d\n", a >= 0 ? "yes" : "no", nonblock_flag(a));
  pthread_join(th, NULL);
  close(a);
  printf("listener after a blocking accept: %d\n", nonblock_flag(l));
  int fl = fcntl(l, F_GETFL);
  printf("listener access mode read-write: %d\n", (fl & O_ACCMODE) == O_RDWR);
  set_nonblock(l, 1);
  printf("listener after F_SETFL: %d\n", nonblock_flag(l));
  SHOW("accept on a non-blocking listener", accept(l, NULL, NULL));
  ioctl(l, FIONBIO, &off);
  printf("listener after FIONBIO 0: %d\n", nonblock_flag(l));
  pthread_create(&th, NULL, connect_later, &port);
  a = accept4(l, NULL, NULL, SOCK_NONBLOCK);
  printf("accept4 SOCK_NONBLOCK: %s, new socket non-blocking: %d\n", a >= 0 ? "yes" : "no",
         nonblock_flag(a));
  pthread_join(th, NULL);
  close(a);
  int ld = dup(l);
  set_nonblock(ld, 1);
  printf("listener after F_SETFL on its dup: %d\n", nonblock_flag(l));
  SHOW("accept on it", accept(l, NULL, NULL));
  close(ld);

  /* A non-blocking connect: EINPROGRESS (or at once), then POLLOUT and
   * SO_ERROR 0; the flag is still the program's afterwards. */
  set_nonblock(l, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in here = loopback(port);
  int r = connect(c, (struct sockaddr*)&here, sizeof here);
  printf("non-blocking connect: %s\n", r == 0 || errno == EINPROGRESS ? "0 or EINPROGRESS" : errname(errno));
  struct pollfd pf = {c, POLLOUT, 0};
  SHOW("poll for the connection", poll(&pf, 1, 5000));
  int err = -1;
  socklen_t len = sizeof err;
  getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
  printf("SO_ERROR %s, still non-blocking: %d\n", errname(err), nonblock_flag(c));
  a = accept(l, NULL, NULL);
  SHOW("recv on the non-blocking client", recv(c, buf, 1, 0));
  close(a);
  close(c);

  /* A blocking connect leaves the socket blocking. */
  c = socket(AF_INET, SOCK_STREAM, 0);
  SHOW("blocking connect", connect(c, (struct sockaddr*)&here, sizeof here));
  printf("after a blocking connect: %d\n", nonblock_flag(c));
  close(c);
  close(l);
  return 0;
}
