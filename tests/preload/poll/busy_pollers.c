/* Threads that poll without ever waiting until another thread answers: a
 * zero-timeout poll, select and epoll_wait, recv with MSG_DONTWAIT, a
 * non-blocking socket, and a select whose socket is always writable
 * followed by a recv that fails with EAGAIN (asyncore's TLS handshake);
 * and a thread that computes, only locking an uncontended mutex, until a
 * thread in a timed sleep wakes up (CPython's GIL waits so).
 * Natively the answering thread runs on another CPU or is preempted in;
 * under the preload both share a hub (GREENHUB_HUBS=1), and the busy
 * thread must let it run (preload/busy_poll.hpp). */
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>

#include "../sockets/fixture.h"

/* Reads a byte, answers one, until EOF. */
static void* answerer(void* arg) {
  int fd = *(int*)arg;
  char c;
  while (read(fd, &c, 1) == 1) {
    CHECK(write(fd, "y", 1) == 1);
  }
  return NULL;
}

enum kind { kPoll, kSelect, kEpoll, kDontwait, kNonblock, kWritableSelect };

/* Asks, then polls in the given way until the answer is there; returns
 * whether it arrived. */
static int ask_and_spin(int fd, int ep, enum kind how) {
  CHECK(write(fd, "x", 1) == 1);
  char c;
  for (long spins = 0; spins < 200000000L; ++spins) {
    int ready = 0;
    if (how == kPoll) {
      struct pollfd p = {fd, POLLIN, 0};
      ready = poll(&p, 1, 0) == 1;
    } else if (how == kSelect || how == kWritableSelect) {
      fd_set r, w;
      FD_ZERO(&r);
      FD_ZERO(&w);
      FD_SET(fd, &r);
      if (how == kWritableSelect) FD_SET(fd, &w);
      struct timeval tv = {how == kWritableSelect ? 5 : 0, 0};
      int n = select(fd + 1, &r, &w, NULL, &tv);
      ready = n > 0 && FD_ISSET(fd, &r);
      if (how == kWritableSelect && !ready) {
        ssize_t got = recv(fd, &c, 1, MSG_DONTWAIT);
        if (got == 1) return c == 'y';
        CHECK(got < 0 && errno == EAGAIN);
      }
    } else if (how == kEpoll) {
      struct epoll_event ev;
      ready = epoll_wait(ep, &ev, 1, 0) == 1;
    } else {
      ssize_t got = recv(fd, &c, 1, how == kDontwait ? MSG_DONTWAIT : 0);
      if (got == 1) return c == 'y';
      CHECK(got < 0 && errno == EAGAIN);
    }
    if (ready) return read(fd, &c, 1) == 1 && c == 'y';
  }
  return 0;
}

static volatile int slept;
static void* short_sleeper(void* arg) {
  (void)arg;
  usleep(5000);
  slept = 1;
  return NULL;
}

/* Computes until the sleeper is done; returns whether it was. */
static int compute_until_slept(void) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_t th;
  pthread_create(&th, NULL, short_sleeper, NULL);
  volatile unsigned long work = 0;
  for (long spins = 0; spins < 2000000000L && !slept; ++spins) {
    pthread_mutex_lock(&m);
    work += (unsigned long)spins;
    pthread_mutex_unlock(&m);
  }
  pthread_join(th, NULL);
  return slept;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  pthread_t th;
  pthread_create(&th, NULL, answerer, &sp[1]);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = sp[0]};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev) == 0);
  printf("zero-timeout poll loop answered: %d\n", ask_and_spin(sp[0], ep, kPoll));
  printf("zero-timeout select loop answered: %d\n", ask_and_spin(sp[0], ep, kSelect));
  printf("zero-timeout epoll_wait loop answered: %d\n", ask_and_spin(sp[0], ep, kEpoll));
  printf("recv MSG_DONTWAIT loop answered: %d\n", ask_and_spin(sp[0], ep, kDontwait));
  printf("select always writable, recv EAGAIN loop answered: %d\n",
         ask_and_spin(sp[0], ep, kWritableSelect));
  fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
  printf("non-blocking recv loop answered: %d\n", ask_and_spin(sp[0], ep, kNonblock));
  printf("computing thread let a timed sleeper wake: %d\n", compute_until_slept());
  close(sp[0]);
  pthread_join(th, NULL);
  close(sp[1]);
  close(ep);
  return 0;
}
