/* Bad input and failures, as libc reports them: EBADF, ENOTSOCK, EINVAL,
 * EFAULT, ENOTCONN, EISCONN, EDESTADDRREQ, ECONNREFUSED, ECONNRESET, EPIPE
 * with and without MSG_NOSIGNAL, SIGPIPE ignored, handled and fatal. */
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <limits.h>

#include "fixture.h"

static volatile sig_atomic_t sigpipes;
/* Bad values the compiler must not see through (it would refuse them). */
static volatile int minus_one = -1;
static volatile int too_many = IOV_MAX + 1;
static void* volatile bad_pointer = (void*)8;
static void on_sigpipe(int sig) {
  (void)sig;
  ++sigpipes;
}

static void* accept_one(void* arg) {
  int l = *(int*)arg;
  return (void*)(long)accept(l, NULL, NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  char buf[64];

  /* EBADF: -1, a closed descriptor, a huge one. */
  int closed = socket(AF_UNIX, SOCK_STREAM, 0);
  close(closed);
  SHOW("read -1", read(-1, buf, 1));
  SHOW("read closed", read(closed, buf, 1));
  SHOW("write closed", write(closed, "x", 1));
  SHOW("recv closed", recv(closed, buf, 1, 0));
  SHOW("send closed", send(closed, "x", 1, 0));
  SHOW("accept closed", accept(closed, NULL, NULL));
  SHOW("close closed", close(closed));
  SHOW("close -1", close(-1));
  SHOW("dup2 closed", dup2(closed, 100));
  SHOW("dup closed", dup(closed));
  SHOW("fcntl closed", fcntl(closed, F_GETFL));
  SHOW("read 1<<24", read(1 << 24, buf, 1));
  SHOW("shutdown closed", shutdown(closed, SHUT_RDWR));

  /* ENOTSOCK on a pipe. */
  int p[2];
  CHECK(pipe(p) == 0);
  SHOW("recv pipe", recv(p[0], buf, 1, 0));
  SHOW("send pipe", send(p[1], "x", 1, 0));
  SHOW("accept pipe", accept(p[0], NULL, NULL));
  struct sockaddr_in any = loopback(1);
  SHOW("connect pipe", connect(p[0], (struct sockaddr*)&any, sizeof any));
  SHOW("shutdown pipe", shutdown(p[0], SHUT_RD));
  int v;
  socklen_t vl = sizeof v;
  SHOW("getsockopt pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &vl));
  SHOW("write to the read end", write(p[0], "x", 1));
  SHOW("read from the write end", read(p[1], buf, 1));

  /* EINVAL. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  SHOW("accept not listening", accept(s, NULL, NULL));
  int port;
  int l = tcp_listener(4, &port);
  SHOW("accept4 bad flags", accept4(l, NULL, NULL, 0x40000000));
  struct iovec iov = {buf, 1};
  SHOW("readv iovcnt -1", readv(p[0], &iov, minus_one));
  SHOW("readv iovcnt IOV_MAX+1", readv(p[0], &iov, too_many));
  SHOW("writev iovcnt -1", writev(p[1], &iov, minus_one));
  SHOW("readv iovcnt 0", readv(p[0], &iov, 0));
  SHOW("dup3 same", dup3(p[0], p[0], 0));
  SHOW("dup3 bad flags", dup3(p[0], 50, 12345));
  SHOW("shutdown bad how", shutdown(s, 7));
  SHOW("socket bad domain", socket(12345, SOCK_STREAM, 0));
  SHOW("socket bad type", socket(AF_INET, 12345, 0));
  SHOW("listen udp", listen(socket(AF_INET, SOCK_DGRAM, 0), 1));
  SHOW("close_range reversed", close_range(10, 5, 0));

  /* ENOTCONN, EDESTADDRREQ. */
  SHOW("recv unconnected tcp", recv(s, buf, 1, 0));
  SHOW("send unconnected tcp", send(s, "x", 1, MSG_NOSIGNAL));
  SHOW("read unconnected tcp", read(s, buf, 1));
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  SHOW("send unconnected udp", send(u, "x", 1, 0));
  close(u);

  /* ECONNREFUSED: nothing listens on the port. */
  int port2 = closed_port();
  struct sockaddr_in refused = loopback(port2);
  SHOW("connect refused", connect(s, (struct sockaddr*)&refused, sizeof refused));
  close(s);

  /* EISCONN on a second connect. */
  pthread_t th;
  pthread_create(&th, NULL, accept_one, &l);
  s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in here = loopback(port);
  SHOW("connect", connect(s, (struct sockaddr*)&here, sizeof here));
  SHOW("connect again", connect(s, (struct sockaddr*)&here, sizeof here));
  void* accepted;
  pthread_join(th, &accepted);
  int peer = (int)(long)accepted;
  CHECK(peer >= 0);

  /* ECONNRESET: the peer closes with SO_LINGER {1, 0}, which resets. */
  send(s, "unread", 6, 0);
  struct linger lg = {1, 0};
  setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  sleep_ms(20);
  close(peer);
  sleep_ms(20);
  SHOW("recv after reset", recv(s, buf, sizeof buf, 0));
  SHOW("recv after reset again", recv(s, buf, sizeof buf, 0));
  close(s);

  /* EFAULT. */
  int q[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, q) == 0);
  send(q[1], "data", 4, 0);
  SHOW("recv into NULL", recv(q[0], NULL, 4, 0));
  SHOW("send from NULL", send(q[1], NULL, 4, MSG_NOSIGNAL));
  SHOW("write from a bad pointer", write(q[1], bad_pointer, 4));
  write(p[1], "xy", 2);
  SHOW("read pipe into a bad pointer", read(p[0], bad_pointer, 2));
  SHOW("readv bad iov", readv(q[0], bad_pointer, 1));
  SHOW("recvmsg NULL msg", recvmsg(q[0], NULL, 0));
  SHOW("ioctl FIONBIO bad pointer", ioctl(q[0], FIONBIO, bad_pointer));
  close(q[0]);
  close(q[1]);

  /* EPIPE: with MSG_NOSIGNAL no signal; with SIGPIPE ignored; handled;
   * and by default the process dies of it. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, q) == 0);
  close(q[0]);
  SHOW("send MSG_NOSIGNAL to a closed peer", send(q[1], "x", 1, MSG_NOSIGNAL));
  signal(SIGPIPE, SIG_IGN);
  SHOW("write with SIGPIPE ignored", write(q[1], "x", 1));
  signal(SIGPIPE, on_sigpipe);
  SHOW("send with a handler", send(q[1], "x", 1, 0));
  SHOW("write with a handler", write(q[1], "x", 1));
  printf("SIGPIPE handled %d times\n", (int)sigpipes);
  CHECK(pipe(p) == 0);
  close(p[0]);
  SHOW("write to a pipe without reader", write(p[1], "x", 1));
  printf("SIGPIPE handled %d times\n", (int)sigpipes);
  signal(SIGPIPE, SIG_DFL);
  pid_t child = fork();
  if (child == 0) {
    send(q[1], "x", 1, 0);
    _exit(0);  /* not reached: SIGPIPE kills */
  }
  int status;
  waitpid(child, &status, 0);
  printf("child: %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited",
         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  close(q[1]);
  close(p[1]);
  close(l);
  return 0;
}
