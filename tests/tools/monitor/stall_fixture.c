/* Blocks its hub, for the blocking monitor's test, through a path that no
 * preload can make green:
 *   stdio-fgets   fgets() on a socket: stdio reads with libc's internal read
 *   syscall-read  syscall(SYS_read) on a socket
 *   cpu-loop      a computation that never calls anything that could wait
 *                 (STALL_MS of CPU time)
 *   tty-read      read() on a terminal (the preload passes it to libc)
 *   sleep         nothing blocks: usleep() waits greenly (never reported)
 * for about STALL_MS (default 400) milliseconds, while a ticker thread
 * waits to run on the same hub. With "thread" as second argument, the
 * blocking happens in a green thread named "blocker" instead of main().
 * The functions named block_in_* are exported (linked with -rdynamic) so
 * that the report's backtrace can name them. Prints the ticker's ticks. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int done;
static int stall_ms = 400;
static const char *mode;

static void *ticker(void *arg) {
  long *ticks = arg;
  while (!atomic_load(&done)) {
    usleep(2000);
    ++*ticks;
  }
  return NULL;
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A child process that writes one line into `fd` after stall_ms. */
static pid_t write_later(int fd) {
  pid_t pid = fork();
  if (pid == 0) {
    struct timespec ts = {stall_ms / 1000, (stall_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (write(fd, "line\n", 5) != 5) _exit(1);
    _exit(0);
  }
  return pid;
}

__attribute__((noinline)) void block_in_stdio_fgets(int fd) {
  FILE *in = fdopen(fd, "r");
  char line[64];
  if (in == NULL || fgets(line, sizeof line, in) == NULL) {
    perror("fgets");
    exit(1);
  }
  fclose(in);
}

__attribute__((noinline)) void block_in_syscall_read(int fd) {
  char buf[64];
  if (syscall(SYS_read, fd, buf, sizeof buf) <= 0) {
    perror("syscall(SYS_read)");
    exit(1);
  }
}

__attribute__((noinline)) void block_in_tty_read(int fd) {
  char buf[64];
  if (read(fd, buf, sizeof buf) <= 0) {
    perror("read");
    exit(1);
  }
}

/* Computes for stall_ms of this thread's CPU time (on a busy machine, that
 * takes longer on the wall clock). */
__attribute__((noinline)) void block_in_cpu_loop(void) {
  volatile unsigned long spins = 0;
  double end = cpu_ms() + stall_ms;
  while (cpu_ms() < end) {
    for (int i = 0; i < 100000; ++i) spins = spins + 1;
  }
}

static void block(void) {
  if (strcmp(mode, "cpu-loop") == 0) {
    block_in_cpu_loop();
    return;
  }
  if (strcmp(mode, "sleep") == 0) {
    usleep(stall_ms * 1000);
    return;
  }
  if (strcmp(mode, "raw-nanosleep") == 0) {
    /* Not interposed (a raw system call): stalls the hub. A signal would
     * end it early with EINTR, so the monitor must not send one. */
    struct timespec ts = {stall_ms / 1000, (stall_ms % 1000) * 1000000L};
    long r = syscall(SYS_nanosleep, &ts, NULL);
    printf("nanosleep %ld%s\n", r, r != 0 && errno == EINTR ? " EINTR" : "");
    return;
  }
  int reader, writer;
  if (strcmp(mode, "tty-read") == 0) {
    writer = posix_openpt(O_RDWR | O_NOCTTY);
    if (writer < 0 || grantpt(writer) != 0 || unlockpt(writer) != 0) {
      perror("posix_openpt");
      exit(1);
    }
    reader = open(ptsname(writer), O_RDWR | O_NOCTTY);
  } else {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
      perror("socketpair");
      exit(1);
    }
    reader = sv[0];
    writer = sv[1];
  }
  pid_t child = write_later(writer);
  if (strcmp(mode, "stdio-fgets") == 0) block_in_stdio_fgets(reader);
  else if (strcmp(mode, "syscall-read") == 0) block_in_syscall_read(reader);
  else if (strcmp(mode, "tty-read") == 0) block_in_tty_read(reader);
  else {
    fprintf(stderr, "unknown mode %s\n", mode);
    exit(2);
  }
  waitpid(child, NULL, 0);
}

static void *blocker(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "blocker");
  block();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODE [thread]\n", argv[0]);
    return 2;
  }
  mode = argv[1];
  if (getenv("STALL_MS") != NULL) stall_ms = atoi(getenv("STALL_MS"));
  long ticks = 0;
  pthread_t t;
  pthread_create(&t, NULL, ticker, &ticks);
  usleep(20000);
  if (argc > 2 && strcmp(argv[2], "thread") == 0) {
    pthread_t b;
    pthread_create(&b, NULL, blocker, NULL);
    pthread_join(b, NULL);
  } else {
    block();
  }
  atomic_store(&done, 1);
  pthread_join(t, NULL);
  printf("ticks %s\n", ticks > 0 ? "yes" : "no");
  return 0;
}
