/* Blocking socket, pipe and poll calls are cancellation points, and signal
 * handlers interrupt them as the kernel does: EINTR without SA_RESTART;
 * with SA_RESTART a read or recv goes on, but never a poll, a select, an
 * epoll_wait, or a socket call with a timeout set; a send interrupted after
 * partial progress returns the bytes sent. */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/uio.h>

#include "fixture.h"

static volatile int cleanups;
static void cleanup(void* arg) {
  (void)arg;
  __sync_fetch_and_add(&cleanups, 1);
}

static int sp[2], pp[2], listener, ep;

static void* blocked(void* arg) {
  long kind = (long)arg;
  char buf[16];
  pthread_cleanup_push(cleanup, NULL);
  switch (kind) {
    case 0: recv(sp[0], buf, sizeof buf, 0); break;
    case 1: read(pp[0], buf, sizeof buf); break;
    case 2: accept(listener, NULL, NULL); break;
    case 3: {
      struct pollfd p = {sp[0], POLLIN, 0};
      poll(&p, 1, -1);
      break;
    }
    case 4: {
      fd_set r;
      FD_ZERO(&r);
      FD_SET(sp[0], &r);
      select(sp[0] + 1, &r, NULL, NULL, NULL);
      break;
    }
    case 5: {
      struct epoll_event ev;
      epoll_wait(ep, &ev, 1, -1);
      break;
    }
    case 6: {
      struct iovec iov = {buf, sizeof buf};
      readv(sp[0], &iov, 1);
      break;
    }
  }
  pthread_cleanup_pop(0);
  return (void*)1;
}

static const char* kinds[] = {"recv", "read", "accept", "poll", "select", "epoll_wait", "readv"};

static volatile sig_atomic_t handled;
static void on_usr1(int sig) {
  (void)sig;
  ++handled;
}

static void install(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = flags;
  sigaction(SIGUSR1, &sa, NULL);
}

struct call {
  int what;
  ssize_t result;
  int error;
};

static void* interrupted(void* arg) {
  struct call* c = arg;
  char buf[16];
  errno = 0;
  switch (c->what) {
    case 0: c->result = recv(sp[0], buf, sizeof buf, 0); break;
    case 1: {
      struct pollfd p = {sp[0], POLLIN, 0};
      c->result = poll(&p, 1, -1);
      break;
    }
    case 2: c->result = read(pp[0], buf, sizeof buf); break;
    case 3: {
      static char big[8 << 20];
      c->result = send(sp[0], big, sizeof big, 0);
      break;
    }
  }
  c->error = errno;
  return NULL;
}

static void signal_case(const char* label, int what, int flags, int feed) {
  install(flags);
  handled = 0;
  struct call c = {what, -2, 0};
  pthread_t th;
  pthread_create(&th, NULL, interrupted, &c);
  sleep_ms(60);
  pthread_kill(th, SIGUSR1);
  sleep_ms(60);
  if (feed) {
    if (what == 2) write(pp[1], "fed", 3);
    else send(sp[1], "fed", 3, 0);
  }
  pthread_join(th, NULL);
  if (what == 3) {
    printf("%s: partial %s, handler ran %d\n", label, c.result > 0 && c.result < (8 << 20) ? "yes" : "no",
           (int)handled);
    char drain[65536];
    while (recv(sp[1], drain, sizeof drain, MSG_DONTWAIT) > 0) {
    }
    return;
  }
  printf("%s: %ld %s, handler ran %d\n", label, (long)c.result, c.result < 0 ? errname(c.error) : "",
         (int)handled);
  char drain[16];
  while (recv(sp[0], drain, sizeof drain, MSG_DONTWAIT) > 0) {
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  CHECK(pipe(pp) == 0);
  int port;
  listener = tcp_listener(4, &port);
  ep = epoll_create1(0);
  struct epoll_event ev = {EPOLLIN, {.u32 = 0}};
  epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev);

  /* Cancellation. */
  for (long k = 0; k < 7; ++k) {
    pthread_t th;
    pthread_create(&th, NULL, blocked, (void*)k);
    sleep_ms(30);
    pthread_cancel(th);
    void* r;
    pthread_join(th, &r);
    printf("cancel while blocked in %s: %s\n", kinds[k], r == PTHREAD_CANCELED ? "canceled" : "returned");
  }
  printf("cleanup handlers ran: %d\n", cleanups);

  /* Signals. */
  signal_case("recv, handler without SA_RESTART", 0, 0, 0);
  signal_case("recv, handler with SA_RESTART (then data)", 0, SA_RESTART, 1);
  signal_case("read pipe, handler without SA_RESTART", 2, 0, 0);
  signal_case("read pipe, handler with SA_RESTART (then data)", 2, SA_RESTART, 1);
  signal_case("poll, handler with SA_RESTART", 1, SA_RESTART, 0);
  struct timeval tv = {5, 0};
  setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  signal_case("recv with SO_RCVTIMEO, handler with SA_RESTART", 0, SA_RESTART, 0);
  tv.tv_sec = 0;
  setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  signal_case("send of 8 MB, handler without SA_RESTART", 3, 0, 0);
  close(sp[0]);
  close(sp[1]);
  close(pp[0]);
  close(pp[1]);
  close(listener);
  close(ep);
  return 0;
}
