/*
 * epoll_echo_server: the reference the legacy server is measured against: a
 * hand-written single-thread epoll echo server, what one would write for
 * speed without any runtime.
 *
 *   epoll_echo_server [PORT]      (PORT 0 or absent: any free port)
 *
 * Listens on 127.0.0.1, prints "listening on 127.0.0.1:PORT", serves until
 * SIGTERM or SIGINT, then closes everything and exits 0.
 *
 * How it works
 *   Non-blocking sockets in one level-triggered epoll set; epoll's data is
 *   the descriptor. A readable client is read once (up to 4 KiB) and the
 *   bytes are written straight back; bytes the socket does not take are
 *   kept in a per-client buffer, the client then waits for EPOLLOUT and is
 *   not read again until that buffer is empty (so a client that does not
 *   read cannot make the server buffer without bound). The listener
 *   accepts up to 64 clients per readiness. The soft RLIMIT_NOFILE is
 *   raised to the hard limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kBufferSize = 4096, kEventsPerWait = 512, kAcceptsPerWake = 64 };

struct client {
  char *pending; /* bytes still to write back, or NULL */
  size_t pending_len, pending_off;
};

static volatile sig_atomic_t stop_requested;
static struct client *clients; /* indexed by descriptor */
static size_t max_clients;
static int epfd;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void drop_client(int fd) {
  free(clients[fd].pending);
  clients[fd] = (struct client){0};
  close(fd);
}

static void watch(int fd, int op, unsigned events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(epfd, op, fd, &ev) != 0) perror("epoll_echo_server: epoll_ctl");
}

/* Writes what is pending; returns -1 when the client is gone. */
static int flush_pending(int fd) {
  struct client *c = &clients[fd];
  while (c->pending_off < c->pending_len) {
    ssize_t n = send(fd, c->pending + c->pending_off, c->pending_len - c->pending_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    c->pending_off += (size_t)n;
  }
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_off = 0;
  watch(fd, EPOLL_CTL_MOD, EPOLLIN);
  return 0;
}

static void on_readable(int fd) {
  char buf[kBufferSize];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    drop_client(fd);
    return;
  }
  if (n < 0) return;
  ssize_t written = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
  if (written < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      drop_client(fd);
      return;
    }
    written = 0;
  }
  if (written < n) {
    struct client *c = &clients[fd];
    c->pending_len = (size_t)(n - written);
    c->pending_off = 0;
    c->pending = malloc(c->pending_len);
    if (c->pending == NULL) {
      drop_client(fd);
      return;
    }
    memcpy(c->pending, buf + written, c->pending_len);
    watch(fd, EPOLL_CTL_MOD, EPOLLOUT);
  }
}

static void accept_clients(int listener) {
  for (int i = 0; i < kAcceptsPerWake; i++) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        perror("epoll_echo_server: accept4");
      }
      return;
    }
    if ((size_t)fd >= max_clients) {
      close(fd);
      continue;
    }
    watch(fd, EPOLL_CTL_ADD, EPOLLIN);
  }
}

static int listen_on_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, SOMAXCONN) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  char *end = NULL;
  long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
  if (argc > 2 || (argc == 2 && (*argv[1] == '\0' || *end != '\0' || port < 0 || port > 65535))) {
    fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
    return 2;
  }
  struct rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  max_clients = limit.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)limit.rlim_cur;
  clients = calloc(max_clients, sizeof *clients);

  struct sigaction stop = {.sa_handler = on_stop_signal};
  sigemptyset(&stop.sa_mask);
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);

  int listener = listen_on_loopback((int)port);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (listener < 0 || epfd < 0 || clients == NULL) {
    perror("epoll_echo_server: setup");
    return 1;
  }
  watch(listener, EPOLL_CTL_ADD, EPOLLIN);
  struct sockaddr_in bound;
  socklen_t bound_len = sizeof bound;
  getsockname(listener, (struct sockaddr *)&bound, &bound_len);
  printf("listening on 127.0.0.1:%d\n", ntohs(bound.sin_port));
  fflush(stdout);

  struct epoll_event events[kEventsPerWait];
  while (!stop_requested) {
    int n = epoll_wait(epfd, events, kEventsPerWait, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_echo_server: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        accept_clients(listener);
      } else if (clients[fd].pending != NULL) {
        if (flush_pending(fd) != 0) drop_client(fd);
      } else {
        on_readable(fd);
      }
    }
  }
  for (size_t fd = 0; fd < max_clients; fd++) free(clients[fd].pending);
  close(listener);
  close(epfd);
  return 0;
}
