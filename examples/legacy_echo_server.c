/*
 * legacy_echo_server: a TCP echo server written the way servers were before
 * event loops: one pthread per client, blocking accept, read and write.
 * It knows nothing of greenhub; it is the program greenhub's preload is for.
 *
 *   legacy_echo_server [PORT]      (PORT 0 or absent: any free port)
 *
 * It listens on 127.0.0.1 only, prints "listening on 127.0.0.1:PORT" once it
 * accepts connections, and serves until SIGTERM or SIGINT. Then it stops
 * accepting, shuts down every open connection so that each thread's blocking
 * read returns, waits (at most 10 s) for the threads to finish, prints what
 * it served and exits 0.
 *
 * How it works
 *   main() accepts; each accepted socket gets a detached thread that reads
 *   up to 4 KiB and writes it all back until EOF or an error, then closes
 *   the socket. Open connections are kept in a list under a mutex (for the
 *   shutdown) and counted; the last thread to leave after a shutdown
 *   signals a condition variable. The signal handler only sets a flag: it
 *   is installed without SA_RESTART, so the blocking accept returns EINTR
 *   and main() sees the flag. SIGPIPE is ignored, so writing to a client
 *   that went away is an EPIPE error and ends that client's thread only.
 *   At start the soft RLIMIT_NOFILE is raised to the hard limit, as servers
 *   that hold many connections do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct connection {
  int fd;
  struct connection *prev, *next;
};

static volatile sig_atomic_t stop_requested;

static pthread_mutex_t connections_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_closed = PTHREAD_COND_INITIALIZER;
static struct connection *connections;   /* open connections, under the lock */
static long open_connections;            /* under the lock */
static long served_connections;          /* under the lock */
static unsigned long long echoed_bytes;  /* under the lock */

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void forget_connection(struct connection *c, unsigned long long bytes) {
  pthread_mutex_lock(&connections_lock);
  if (c->prev) c->prev->next = c->next; else connections = c->next;
  if (c->next) c->next->prev = c->prev;
  open_connections--;
  served_connections++;
  echoed_bytes += bytes;
  if (open_connections == 0) pthread_cond_broadcast(&all_closed);
  pthread_mutex_unlock(&connections_lock);
}

/* Writes all of buf; returns 0, or -1 on an error. */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static void *serve_client(void *arg) {
  struct connection *c = arg;
  char buf[4096];
  unsigned long long bytes = 0;
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != ECONNRESET) perror("legacy_echo_server: read");
      break;
    }
    if (write_all(c->fd, buf, (size_t)n) != 0) {
      if (errno != EPIPE && errno != ECONNRESET) perror("legacy_echo_server: write");
      break;
    }
    bytes += (unsigned long long)n;
  }
  forget_connection(c, bytes); /* before close: the shutdown only sees open fds */
  close(c->fd);
  free(c);
  return NULL;
}

static void start_client_thread(int fd, const pthread_attr_t *attr) {
  struct connection *c = calloc(1, sizeof *c);
  if (c == NULL) {
    fprintf(stderr, "legacy_echo_server: out of memory, dropping a client\n");
    close(fd);
    return;
  }
  c->fd = fd;
  pthread_mutex_lock(&connections_lock);
  c->next = connections;
  if (connections) connections->prev = c;
  connections = c;
  open_connections++;
  pthread_mutex_unlock(&connections_lock);

  pthread_t thread;
  int err = pthread_create(&thread, attr, serve_client, c);
  if (err != 0) {
    fprintf(stderr, "legacy_echo_server: pthread_create: %s, dropping a client\n", strerror(err));
    forget_connection(c, 0);
    close(fd);
    free(c);
  }
}

static void raise_open_files_limit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) perror("legacy_echo_server: setrlimit");
  }
}

static int listen_on_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("legacy_echo_server: socket");
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)port);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("legacy_echo_server: bind");
    close(fd);
    return -1;
  }
  if (listen(fd, SOMAXCONN) != 0) {
    perror("legacy_echo_server: listen");
    close(fd);
    return -1;
  }
  return fd;
}

/* Shuts down every open connection and waits for their threads to leave. */
static void close_all_connections(void) {
  pthread_mutex_lock(&connections_lock);
  for (struct connection *c = connections; c != NULL; c = c->next) shutdown(c->fd, SHUT_RDWR);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  while (open_connections > 0) {
    if (pthread_cond_timedwait(&all_closed, &connections_lock, &deadline) == ETIMEDOUT) {
      fprintf(stderr, "legacy_echo_server: %ld connections still open after 10 s\n",
              open_connections);
      break;
    }
  }
  pthread_mutex_unlock(&connections_lock);
}

int main(int argc, char **argv) {
  if (argc > 2) {
    fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
    return 2;
  }
  char *end = NULL;
  long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
  if (argc == 2 && (*argv[1] == '\0' || *end != '\0' || port < 0 || port > 65535)) {
    fprintf(stderr, "legacy_echo_server: bad port '%s'\n", argv[1]);
    return 2;
  }

  raise_open_files_limit();
  signal(SIGPIPE, SIG_IGN);
  struct sigaction stop;
  memset(&stop, 0, sizeof stop);
  stop.sa_handler = on_stop_signal;
  sigemptyset(&stop.sa_mask);
  stop.sa_flags = 0; /* no SA_RESTART: accept() returns EINTR */
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);

  int listener = listen_on_loopback((int)port);
  if (listener < 0) return 1;
  struct sockaddr_in bound;
  socklen_t bound_len = sizeof bound;
  getsockname(listener, (struct sockaddr *)&bound, &bound_len);
  printf("listening on 127.0.0.1:%d\n", ntohs(bound.sin_port));
  fflush(stdout);

  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

  while (!stop_requested) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        /* Out of descriptors: let a client leave before accepting more. */
        fprintf(stderr, "legacy_echo_server: accept: %s\n", strerror(errno));
        usleep(10000);
        continue;
      }
      perror("legacy_echo_server: accept");
      break;
    }
    start_client_thread(fd, &detached);
  }

  close(listener);
  close_all_connections();
  pthread_attr_destroy(&detached);
  pthread_mutex_lock(&connections_lock);
  printf("served %ld connections, echoed %llu bytes\n", served_connections, echoed_bytes);
  pthread_mutex_unlock(&connections_lock);
  return 0;
}
