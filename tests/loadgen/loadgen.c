/*
 * loadgen: holds N TCP connections to an echo server at once, runs a
 * ping-pong on all of them for a while, and checks every byte that comes
 * back against the bytes that were sent.
 *
 *   loadgen --port PORT [--host 127.0.0.1] [--connections N] [--duration S]
 *           [--warmup S] [--size BYTES] [--connect-timeout S]
 *           [--drain-timeout S] [--watch-pid PID]
 *
 * Output: one `key value` line per figure on stdout (decimal numbers; lines
 * starting with '#' are for humans). Exit status 0 when every connection
 * was held through the run with no error and no corrupt byte, 1 otherwise,
 * 2 for bad arguments.
 *
 * How it works
 *   One thread, one epoll instance, non-blocking sockets. The connect phase
 *   opens the N connections, at most 256 handshakes in flight (so that the
 *   server's listen backlog never overflows), until all are up or the
 *   connect timeout passes. Then every connection sends its first message
 *   and the ping-pong runs: when a connection's message has come back
 *   whole, it sends the next one, so each connection always has exactly
 *   one message in flight. The warm-up starts once every connection has
 *   had its first echo (the server has accepted and serves them all), or
 *   when the connect timeout passes again. Message `seq` of connection `i` is a
 *   pseudo-random function of (i, seq), so each received chunk is compared
 *   with the bytes expected at its offset without keeping copies. Requests
 *   and latencies (send of a message to the end of its echo) are counted
 *   in the measurement window [warmup, warmup + duration]; then no new
 *   message is sent, the messages in flight are drained (every byte still
 *   checked), and the connections are closed.
 *
 *   A connection is "held" when it is still open at the end of the window
 *   and has had at least one echo back. With --watch-pid, the server's
 *   OS threads (entries of /proc/PID/task), RSS, and CPU use are read at
 *   the end of the window, while all connections are held, and the
 *   largest thread count and RSS are tracked through the run.
 *
 *   The soft RLIMIT_NOFILE is raised to the hard limit at start.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kMaxConnectsInFlight = 256, kMaxMessage = 65536, kEventsPerWait = 1024 };
/* Latency histogram: 1 us buckets below 100 ms, 1 ms buckets up to 100 s. */
enum { kFineBuckets = 100000, kCoarseBuckets = 100000 };
static const long kKernelStackKib = 16; /* THREAD_SIZE on x86_64 */

enum conn_state { kIdle, kConnecting, kActive, kClosed };

struct conn {
  int fd;
  uint8_t state;
  bool want_write;
  uint32_t seq;      /* the message in flight */
  uint32_t sent;     /* bytes of it written */
  uint32_t received; /* bytes of it echoed back */
  int64_t sent_at_ns;
  uint64_t echoes;
};

struct options {
  const char *host;
  int port;
  long connections;
  double duration_s, warmup_s, connect_timeout_s, drain_timeout_s;
  long size;
  long watch_pid;
};

struct server_sample {
  bool ok;
  long threads;
  long rss_kib;
  long long cpu_ticks;
};

struct stats {
  uint64_t requests;      /* echoes completed inside the window */
  uint64_t bytes_checked; /* every echoed byte, whole run */
  uint64_t corrupt_messages;
  uint64_t connect_errors, io_errors, unexpected_eof, drain_timeouts;
  uint32_t *histogram;
};

static struct conn *conns;
static int epfd;
static struct options opt;
static struct stats st;
static long awaiting_first_echo; /* active connections that have had no echo yet */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The bytes of message `seq` of connection `index`. */
static void fill_message(unsigned char *out, long size, uint32_t index, uint32_t seq) {
  uint64_t state = ((uint64_t)index << 32) | seq;
  for (long i = 0; i < size; i += 8) {
    uint64_t word = splitmix64(&state);
    long n = size - i < 8 ? size - i : 8;
    memcpy(out + i, &word, (size_t)n);
  }
}

static void record_latency(int64_t ns) {
  int64_t us = ns / 1000;
  size_t bucket;
  if (us < kFineBuckets) {
    bucket = (size_t)us;
  } else {
    int64_t ms = us / 1000;
    bucket = kFineBuckets + (size_t)(ms < kCoarseBuckets ? ms : kCoarseBuckets - 1);
  }
  st.histogram[bucket]++;
}

/* The q-quantile of the recorded latencies, in microseconds. */
static double latency_quantile_us(double q) {
  uint64_t total = 0;
  for (size_t i = 0; i < kFineBuckets + kCoarseBuckets; i++) total += st.histogram[i];
  if (total == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kFineBuckets + kCoarseBuckets; i++) {
    seen += st.histogram[i];
    if (seen >= rank) return i < kFineBuckets ? (double)i : (double)(i - kFineBuckets) * 1000.0;
  }
  return 0;
}

static void close_conn(uint32_t index) {
  struct conn *c = &conns[index];
  if (c->state == kClosed || c->state == kIdle) return;
  if (c->state == kActive && c->echoes == 0) awaiting_first_echo--;
  close(c->fd); /* also leaves the epoll set */
  c->fd = -1;
  c->state = kClosed;
}

static void set_interest(uint32_t index, bool want_write) {
  struct conn *c = &conns[index];
  if (c->want_write == want_write) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0u), .data.u32 = index};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) perror("loadgen: epoll_ctl");
  c->want_write = want_write;
}

/* Writes what is left of the message in flight. */
static void send_rest(uint32_t index) {
  struct conn *c = &conns[index];
  unsigned char message[kMaxMessage];
  fill_message(message, opt.size, index, c->seq);
  while (c->sent < (uint32_t)opt.size) {
    ssize_t n = send(c->fd, message + c->sent, (size_t)opt.size - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        set_interest(index, true);
        return;
      }
      st.io_errors++;
      close_conn(index);
      return;
    }
    c->sent += (uint32_t)n;
  }
  set_interest(index, false);
}

static void start_message(uint32_t index, int64_t now) {
  struct conn *c = &conns[index];
  c->sent = 0;
  c->received = 0;
  c->sent_at_ns = now;
  send_rest(index);
}

/* Reads what the server echoed; returns true when the message in flight is
 * complete. */
static bool receive(uint32_t index) {
  struct conn *c = &conns[index];
  unsigned char buf[kMaxMessage];
  unsigned char expected[kMaxMessage];
  for (;;) {
    ssize_t n = recv(c->fd, buf, (size_t)opt.size - c->received, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return false;
      st.io_errors++;
      close_conn(index);
      return false;
    }
    if (n == 0) {
      st.unexpected_eof++;
      close_conn(index);
      return false;
    }
    fill_message(expected, opt.size, index, c->seq);
    if (memcmp(buf, expected + c->received, (size_t)n) != 0 ||
        c->received + (uint32_t)n > c->sent) {
      st.corrupt_messages++;
      close_conn(index);
      return false;
    }
    st.bytes_checked += (uint64_t)n;
    c->received += (uint32_t)n;
    if (c->received == (uint32_t)opt.size) return true;
  }
}

static bool start_connect(uint32_t index, const struct sockaddr_in *addr) {
  struct conn *c = &conns[index];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
    st.connect_errors++;
    c->state = kClosed;
    return false;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->state = kConnecting;
  c->want_write = true;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = index};
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 && errno != EINPROGRESS) {
    if (st.connect_errors++ == 0) fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
    close(fd);
    c->state = kClosed;
    return false;
  }
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return true;
}

static void finish_connect(uint32_t index) {
  struct conn *c = &conns[index];
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    if (st.connect_errors++ == 0) fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
    close_conn(index);
    return;
  }
  c->state = kActive;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = index};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_write = false;
}

/* Opens the connections; returns how many are up. */
static long connect_all(const struct sockaddr_in *addr) {
  long next = 0, in_flight = 0, up = 0;
  int64_t deadline = now_ns() + (int64_t)(opt.connect_timeout_s * 1e9);
  struct epoll_event events[kEventsPerWait];
  while ((next < opt.connections || in_flight > 0) && now_ns() < deadline) {
    while (next < opt.connections && in_flight < kMaxConnectsInFlight) {
      if (start_connect((uint32_t)next, addr)) in_flight++;
      next++;
    }
    int n = epoll_wait(epfd, events, kEventsPerWait, 100);
    for (int i = 0; i < n; i++) {
      uint32_t index = events[i].data.u32;
      if (conns[index].state != kConnecting) continue;
      finish_connect(index);
      in_flight--;
      if (conns[index].state == kActive) up++;
    }
  }
  for (long i = 0; i < opt.connections; i++) {
    if (conns[i].state == kConnecting) {
      st.connect_errors++;
      close_conn((uint32_t)i);
    }
  }
  return up;
}

static long count_task_entries(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR *dir = opendir(path);
  if (dir == NULL) return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(dir);
  return n;
}

/* Reads the server's threads (from /proc/PID/task when `exact_threads`,
 * else the Threads: line of its status), RSS and CPU time. */
static struct server_sample sample_server(bool exact_threads) {
  struct server_sample s = {0};
  if (opt.watch_pid <= 0) return s;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", opt.watch_pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return s;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "VmRSS:", 6) == 0) s.rss_kib = strtol(line + 6, NULL, 10);
    if (strncmp(line, "Threads:", 8) == 0) s.threads = strtol(line + 8, NULL, 10);
  }
  fclose(f);
  snprintf(path, sizeof path, "/proc/%ld/stat", opt.watch_pid);
  f = fopen(path, "r");
  if (f == NULL) return s;
  if (fgets(line, sizeof line, f) != NULL) {
    /* Fields after the command (which may hold spaces) start after ')'. */
    char *p = strrchr(line, ')');
    unsigned long long utime = 0, stime = 0;
    if (p != NULL &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2) {
      s.cpu_ticks = (long long)(utime + stime);
      s.ok = true;
    }
  }
  fclose(f);
  if (exact_threads) {
    long n = count_task_entries(opt.watch_pid);
    if (n > 0) s.threads = n;
  }
  return s;
}

static double cpu_seconds_of_self(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --port PORT [--host 127.0.0.1] [--connections N] [--duration S]\n"
          "          [--warmup S] [--size BYTES] [--connect-timeout S] [--drain-timeout S]\n"
          "          [--watch-pid PID]\n",
          argv0);
  exit(2);
}

static double parse_seconds(const char *text, const char *argv0) {
  char *end = NULL;
  double v = strtod(text, &end);
  if (end == text || *end != '\0' || !(v >= 0) || v > 86400) usage(argv0);
  return v;
}

static long parse_long(const char *text, long min, long max, const char *argv0) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) usage(argv0);
  return v;
}

static void parse_options(int argc, char **argv) {
  opt = (struct options){.host = "127.0.0.1", .port = -1, .connections = 100, .duration_s = 5,
                         .warmup_s = 1, .connect_timeout_s = 30, .drain_timeout_s = 10,
                         .size = 64, .watch_pid = 0};
  static const struct option longopts[] = {
      {"host", required_argument, NULL, 'h'},        {"port", required_argument, NULL, 'p'},
      {"connections", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
      {"warmup", required_argument, NULL, 'w'},      {"size", required_argument, NULL, 's'},
      {"connect-timeout", required_argument, NULL, 't'},
      {"drain-timeout", required_argument, NULL, 'D'},
      {"watch-pid", required_argument, NULL, 'P'},   {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
      case 'h': opt.host = optarg; break;
      case 'p': opt.port = (int)parse_long(optarg, 1, 65535, argv[0]); break;
      case 'c': opt.connections = parse_long(optarg, 1, 1000000, argv[0]); break;
      case 'd': opt.duration_s = parse_seconds(optarg, argv[0]); break;
      case 'w': opt.warmup_s = parse_seconds(optarg, argv[0]); break;
      case 's': opt.size = parse_long(optarg, 1, kMaxMessage, argv[0]); break;
      case 't': opt.connect_timeout_s = parse_seconds(optarg, argv[0]); break;
      case 'D': opt.drain_timeout_s = parse_seconds(optarg, argv[0]); break;
      case 'P': opt.watch_pid = parse_long(optarg, 1, 1L << 30, argv[0]); break;
      default: usage(argv[0]);
    }
  }
  if (optind != argc || opt.port < 0 || opt.duration_s <= 0) usage(argv[0]);
}

static void raise_open_files_limit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && (rlim_t)opt.connections + 16 > limit.rlim_cur) {
    fprintf(stderr, "loadgen: %ld connections need more than the %llu open files allowed\n",
            opt.connections, (unsigned long long)limit.rlim_cur);
  }
}

int main(int argc, char **argv) {
  parse_options(argc, argv);
  raise_open_files_limit();
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad IPv4 address '%s'\n", opt.host);
    return 2;
  }
  conns = calloc((size_t)opt.connections, sizeof *conns);
  st.histogram = calloc(kFineBuckets + kCoarseBuckets, sizeof *st.histogram);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (conns == NULL || st.histogram == NULL || epfd < 0) {
    perror("loadgen: setup");
    return 1;
  }
  for (long i = 0; i < opt.connections; i++) conns[i].fd = -1;

  int64_t connect_started = now_ns();
  long up = connect_all(&addr);
  double connect_s = (double)(now_ns() - connect_started) / 1e9;

  /* Ping-pong: until every connection has had an echo, then warm-up,
   * measurement window, drain. */
  int64_t start = now_ns();
  int64_t ready_deadline = start + (int64_t)(opt.connect_timeout_s * 1e9);
  const int64_t kNever = INT64_MAX / 2;
  int64_t ready_at = kNever, window_start = kNever, window_end = kNever, drain_deadline = kNever;
  awaiting_first_echo = up;
  for (long i = 0; i < opt.connections; i++) {
    if (conns[i].state == kActive) start_message((uint32_t)i, start);
  }
  struct server_sample at_start = {0}, at_end = {0};
  long threads_max = 0, rss_max = 0;
  double self_cpu_start = 0, self_cpu_end = 0;
  long held = 0;
  bool window_open = false, window_closed = false;
  int64_t next_sample = start;
  long in_flight = up;
  struct epoll_event events[kEventsPerWait];
  for (;;) {
    int64_t now = now_ns();
    if (ready_at == kNever && (awaiting_first_echo == 0 || now >= ready_deadline)) {
      ready_at = now;
      window_start = now + (int64_t)(opt.warmup_s * 1e9);
      window_end = window_start + (int64_t)(opt.duration_s * 1e9);
      drain_deadline = window_end + (int64_t)(opt.drain_timeout_s * 1e9);
    }
    if (!window_open && now >= window_start) {
      window_open = true;
      at_start = sample_server(false);
      self_cpu_start = cpu_seconds_of_self();
    }
    if (!window_closed && now >= window_end) {
      window_closed = true;
      at_end = sample_server(true);
      self_cpu_end = cpu_seconds_of_self();
      for (long i = 0; i < opt.connections; i++) {
        if (conns[i].state == kActive && conns[i].echoes > 0) held++;
      }
    }
    if (now >= next_sample) {
      struct server_sample s = sample_server(false);
      if (s.threads > threads_max) threads_max = s.threads;
      if (s.rss_kib > rss_max) rss_max = s.rss_kib;
      next_sample = now + 250000000;
    }
    if (window_closed && (in_flight == 0 || now >= drain_deadline)) break;
    int64_t next_event = window_closed ? drain_deadline
                         : window_open ? window_end
                         : ready_at != kNever ? window_start : ready_deadline;
    if (next_sample < next_event) next_event = next_sample;
    int timeout_ms = (int)((next_event - now) / 1000000) + 1;
    int n = epoll_wait(epfd, events, kEventsPerWait, timeout_ms);
    if (n < 0 && errno != EINTR) {
      perror("loadgen: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      uint32_t index = events[i].data.u32;
      struct conn *c = &conns[index];
      if (c->state != kActive) continue;
      if ((events[i].events & EPOLLOUT) && c->sent < (uint32_t)opt.size) {
        send_rest(index);
        if (c->state != kActive) {
          in_flight--;
          continue;
        }
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      if (!receive(index)) {
        if (c->state != kActive) in_flight--;
        continue;
      }
      int64_t done = now_ns();
      if (c->echoes++ == 0) awaiting_first_echo--;
      if (done >= window_start && done < window_end) {
        st.requests++;
        record_latency(done - c->sent_at_ns);
      }
      if (done < window_end) {
        c->seq++;
        start_message(index, done);
        if (c->state != kActive) in_flight--;
      } else {
        in_flight--;
      }
    }
  }
  st.drain_timeouts = (uint64_t)in_flight;
  long without_echo = awaiting_first_echo;
  for (long i = 0; i < opt.connections; i++) close_conn((uint32_t)i);

  long long ticks_per_s = sysconf(_SC_CLK_TCK);
  double window_s = opt.duration_s;
  uint64_t errors = st.connect_errors + st.io_errors + st.unexpected_eof + st.corrupt_messages +
                    st.drain_timeouts;
  printf("# loadgen: %ld connections to %s:%d, %ld-byte ping-pong, %.1f s warm-up, %.1f s window\n",
         opt.connections, opt.host, opt.port, opt.size, opt.warmup_s, opt.duration_s);
  printf("connections_requested %ld\n", opt.connections);
  printf("connections_up %ld\n", up);
  printf("connections_held %ld\n", held);
  printf("connect_seconds %.3f\n", connect_s);
  printf("first_echo_seconds %.3f\n", (double)(ready_at - start) / 1e9);
  printf("connections_without_echo %ld\n", without_echo);
  printf("requests %llu\n", (unsigned long long)st.requests);
  printf("requests_per_second %.0f\n", (double)st.requests / window_s);
  printf("latency_p50_us %.0f\n", latency_quantile_us(0.50));
  printf("latency_p99_us %.0f\n", latency_quantile_us(0.99));
  printf("latency_max_us %.0f\n", latency_quantile_us(1.0));
  printf("bytes_checked %llu\n", (unsigned long long)st.bytes_checked);
  printf("corrupt_messages %llu\n", (unsigned long long)st.corrupt_messages);
  printf("connect_errors %llu\n", (unsigned long long)st.connect_errors);
  printf("io_errors %llu\n", (unsigned long long)(st.io_errors + st.unexpected_eof));
  printf("drain_timeouts %llu\n", (unsigned long long)st.drain_timeouts);
  printf("errors %llu\n", (unsigned long long)errors);
  printf("loadgen_cpu_percent %.0f\n", 100.0 * (self_cpu_end - self_cpu_start) / window_s);
  if (opt.watch_pid > 0) {
    bool ok = at_start.ok && at_end.ok;
    printf("server_threads %ld\n", ok ? at_end.threads : -1);
    printf("server_threads_max %ld\n", ok ? threads_max : -1);
    printf("server_rss_kib %ld\n", ok ? at_end.rss_kib : -1);
    printf("server_rss_kib_max %ld\n", ok ? rss_max : -1);
    printf("server_kernel_stacks_kib %ld\n", ok ? at_end.threads * kKernelStackKib : -1);
    printf("server_memory_kib %ld\n", ok ? at_end.rss_kib + at_end.threads * kKernelStackKib : -1);
    printf("server_cpu_percent %.0f\n",
           ok ? 100.0 * (double)(at_end.cpu_ticks - at_start.cpu_ticks) / (double)ticks_per_s / window_s
              : -1.0);
    if (!ok) fprintf(stderr, "loadgen: could not read /proc/%ld\n", opt.watch_pid);
  }
  return (held == opt.connections && errors == 0) ? 0 : 1;
}
