/* Helpers shared by the socket and poll fixtures: plain C, no preload
 * knowledge. Every line a fixture prints must be the same natively and
 * under the preload: print results, errno names and booleans about timing
 * (with generous bounds), never descriptor numbers, addresses or times. */
#ifndef GREENHUB_SOCKET_FIXTURE_H
#define GREENHUB_SOCKET_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline const char* errname(int e) {
  switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case EPIPE: return "EPIPE";
    case ENOTSOCK: return "ENOTSOCK";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EINPROGRESS: return "EINPROGRESS";
    case EALREADY: return "EALREADY";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EMFILE: return "EMFILE";
    case ESPIPE: return "ESPIPE";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EPERM: return "EPERM";
    case ELOOP: return "ELOOP";
    case EMSGSIZE: return "EMSGSIZE";
    case EPROTOTYPE: return "EPROTOTYPE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "errno %d", e);
      return buf;
    }
  }
}

/* Prints "label: result" or "label: -1 ERRNAME". */
#define SHOW(label, expr)                                                  \
  do {                                                                     \
    errno = 0;                                                             \
    long show_r_ = (long)(expr);                                           \
    int show_e_ = errno;                                                   \
    if (show_r_ < 0) printf("%s: %ld %s\n", (label), show_r_, errname(show_e_)); \
    else printf("%s: %ld\n", (label), show_r_);                            \
    fflush(stdout);                                                        \
  } while (0)

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      printf("CHECK FAILED line %d: %s (errno %s)\n", __LINE__, #cond,     \
             errname(errno));                                              \
      fflush(stdout);                                                      \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

static inline void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A TCP listener on 127.0.0.1 with an ephemeral port. */
static inline int tcp_listener(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(bind(fd, (struct sockaddr*)&a, sizeof a) == 0);
  CHECK(listen(fd, backlog) == 0);
  socklen_t len = sizeof a;
  CHECK(getsockname(fd, (struct sockaddr*)&a, &len) == 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static inline struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)port);
  return a;
}

/* A blocking connect to 127.0.0.1:port; returns the socket or -1. */
static inline int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  struct sockaddr_in a = loopback(port);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* A port nothing listens on (bound once, then released). */
static inline int closed_port(void) {
  int port;
  int fd = tcp_listener(1, &port);
  close(fd);
  return port;
}

static inline void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static inline void set_nonblock(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  CHECK(fl >= 0);
  CHECK(fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) == 0);
}

/* Fills a socket's send path until a non-blocking send would block;
 * returns the bytes queued. */
static inline long fill_socket(int fd) {
  static char chunk[4096];
  long total = 0;
  for (;;) {
    ssize_t n = send(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0) {
      CHECK(errno == EAGAIN);
      return total;
    }
    total += n;
  }
}

/* Whether the kernel's flags of fd (not what F_GETFL reports through any
 * interposer) have O_NONBLOCK: read from /proc/self/fdinfo. */
static inline int kernel_nonblock(int fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  FILE* f = fopen(path, "r");
  CHECK(f != NULL);
  char line[256];
  long flags = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "flags:", 6) == 0) flags = strtol(line + 6, NULL, 8);
  }
  fclose(f);
  CHECK(flags >= 0);
  return (flags & O_NONBLOCK) != 0;
}

/* check_os_threads(when, blocked): under the preload only, whether the
 * process runs on at most GREENHUB_HUBS + 2 OS threads while `blocked` of its
 * threads are blocked (reported on stderr only when it does not). */
#include "../sync/os_threads.h"

#endif
