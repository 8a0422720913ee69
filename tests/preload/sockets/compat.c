/* glibc's other names for the same calls (__read, __write, __recv, __send,
 * __socket, __connect, __sendmmsg, __close, __close_nocancel, __dup2,
 * __fcntl, __libc_fcntl64, fcntl64, __poll, __select, closefrom), looked
 * up as other libraries reach them, behave as the public ones, blocking
 * included. */
#include <dlfcn.h>
#include <poll.h>
#include <sys/select.h>

#include "fixture.h"

static void* lookup(const char* name) {
  void* p = dlsym(RTLD_DEFAULT, name);
  if (p == NULL) {
    printf("missing %s\n", name);
    exit(1);
  }
  return p;
}

static int sp[2];
static void* write_after(void* arg) {
  int fd = *(int*)arg;
  sleep_ms(30);
  write(fd, "data", 4);
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  ssize_t (*r_read)(int, void*, size_t) = lookup("__read");
  ssize_t (*r_write)(int, const void*, size_t) = lookup("__write");
  ssize_t (*r_recv)(int, void*, size_t, int) = lookup("__recv");
  ssize_t (*r_send)(int, const void*, size_t, int) = lookup("__send");
  int (*r_socket)(int, int, int) = lookup("__socket");
  int (*r_connect)(int, const struct sockaddr*, socklen_t) = lookup("__connect");
  int (*r_sendmmsg)(int, struct mmsghdr*, unsigned, int) = lookup("__sendmmsg");
  int (*r_close)(int) = lookup("__close");
  int (*r_close_nocancel)(int) = lookup("__close_nocancel");
  int (*r_dup2)(int, int) = lookup("__dup2");
  int (*r_fcntl)(int, int, ...) = lookup("__fcntl");
  int (*r_libc_fcntl64)(int, int, ...) = lookup("__libc_fcntl64");
  int (*r_fcntl64)(int, int, ...) = lookup("fcntl64");
  int (*r_poll)(struct pollfd*, nfds_t, int) = lookup("__poll");
  int (*r_select)(int, fd_set*, fd_set*, fd_set*, struct timeval*) = lookup("__select");
  void (*r_closefrom)(int) = lookup("closefrom");

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  char buf[16];
  pthread_t th;
  pthread_create(&th, NULL, write_after, &sp[1]);
  SHOW("__read (blocks until a write)", r_read(sp[0], buf, sizeof buf));
  pthread_join(th, NULL);
  pthread_create(&th, NULL, write_after, &sp[1]);
  SHOW("__recv (blocks until a write)", r_recv(sp[0], buf, sizeof buf, 0));
  pthread_join(th, NULL);
  SHOW("__write", r_write(sp[1], "abc", 3));
  SHOW("__send", r_send(sp[1], "de", 2, 0));
  pthread_create(&th, NULL, write_after, &sp[1]);
  struct pollfd p = {sp[0], POLLIN, 0};
  recv(sp[0], buf, sizeof buf, 0);
  SHOW("__poll (blocks until a write)", r_poll(&p, 1, 5000));
  pthread_join(th, NULL);
  recv(sp[0], buf, sizeof buf, 0);
  pthread_create(&th, NULL, write_after, &sp[1]);
  fd_set r;
  FD_ZERO(&r);
  FD_SET(sp[0], &r);
  SHOW("__select (blocks until a write)", r_select(sp[0] + 1, &r, NULL, NULL, NULL));
  pthread_join(th, NULL);
  recv(sp[0], buf, sizeof buf, 0);

  int port;
  int l = tcp_listener(4, &port);
  int s = r_socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  SHOW("__connect", r_connect(s, (struct sockaddr*)&a, sizeof a));
  int acc = accept(l, NULL, NULL);
  struct iovec iov = {"mm", 2};
  struct mmsghdr m;
  memset(&m, 0, sizeof m);
  m.msg_hdr.msg_iov = &iov;
  m.msg_hdr.msg_iovlen = 1;
  SHOW("__sendmmsg", r_sendmmsg(s, &m, 1, 0));
  SHOW("recv what it sent", recv(acc, buf, sizeof buf, 0));

  SHOW("__fcntl F_SETFL O_NONBLOCK", r_fcntl(s, F_SETFL, O_NONBLOCK));
  SHOW("__libc_fcntl64 F_GETFL has O_NONBLOCK", (r_libc_fcntl64(s, F_GETFL) & O_NONBLOCK) != 0);
  SHOW("fcntl64 F_GETFL has O_NONBLOCK", (r_fcntl64(s, F_GETFL) & O_NONBLOCK) != 0);
  SHOW("recv on it", recv(s, buf, sizeof buf, 0));
  SHOW("listener F_GETFL after accept, O_NONBLOCK", (r_fcntl64(l, F_GETFL) & O_NONBLOCK) != 0);
  int d = r_dup2(sp[0], 40);
  SHOW("__dup2", d == 40);
  SHOW("__close", r_close(d));
  SHOW("__close again", r_close(d));
  SHOW("__close_nocancel", r_close_nocancel(acc));
  SHOW("__close_nocancel again", r_close_nocancel(acc));
  r_closefrom(3);
  SHOW("after closefrom(3), fcntl(3)", fcntl(3, F_GETFD));
  SHOW("fcntl on what was the socketpair", fcntl(sp[0], F_GETFD));
  /* The process still works after closefrom: a new socketpair, a blocking
   * read woken by another thread. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  pthread_create(&th, NULL, write_after, &sp[1]);
  SHOW("read after closefrom", read(sp[0], buf, sizeof buf));
  pthread_join(th, NULL);
  return 0;
}
