/* The preload leaves no O_NONBLOCK behind in the kernel (DESIGN.md
 * principle 2). Run with a pipe as stdin (differential.py --stdin): green
 * threads read it with blocking reads, and afterwards the kernel's flags of
 * stdin, stdout and every socket or pipe the program waited on (read from
 * /proc/self/fdinfo, and by child processes with and without the preload)
 * have no O_NONBLOCK. A socket inherited by an exec'd child is read green
 * there and keeps its flags too. (A listening socket the program accepted
 * on is the documented exception: F_GETFL shows the program's flag, the
 * kernel's is set; it is not printed here.) */
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/wait.h>

#include "fixture.h"

extern char** environ;
static const char* self_path;

/* Child mode "flags": report fd 0's O_NONBLOCK as F_GETFL shows it. */
static int child_flags(void) {
  int fl = fcntl(0, F_GETFL);
  printf("%d", fl >= 0 && (fl & O_NONBLOCK) ? 1 : 0);
  return 0;
}

/* Child mode "echo": a blocking read on its stdin (an inherited socket),
 * then an answer on it. */
static int child_echo(void) {
  char buf[64];
  ssize_t n = read(0, buf, sizeof buf);
  if (n <= 0) return 2;
  char out[80];
  int len = snprintf(out, sizeof out, "pong:%.*s", (int)n, buf);
  return write(0, out, (size_t)len) == len ? 0 : 3;
}

/* Runs this program in `mode` with fd as its stdin; returns its stdout. */
static void run_child(const char* mode, int fd, int with_preload, char* out, size_t size) {
  int o[2];
  CHECK(pipe(o) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd, 0);
    dup2(o[1], 1);
    close(o[0]);
    close(o[1]);
    if (!with_preload) unsetenv("LD_PRELOAD");
    execle(self_path, self_path, mode, (char*)NULL, environ);
    _exit(127);
  }
  close(o[1]);
  size_t got = 0;
  ssize_t n;
  while (got + 1 < size && (n = read(o[0], out + got, size - 1 - got)) > 0) got += (size_t)n;
  out[got] = '\0';
  close(o[0]);
  int status;
  waitpid(pid, &status, 0);
}

static char stdin_text[256];
static ssize_t stdin_len;

static void* read_stdin(void* arg) {
  (void)arg;
  ssize_t n;
  while ((n = read(0, stdin_text + stdin_len, sizeof stdin_text - 1 - (size_t)stdin_len)) > 0) stdin_len += n;
  return NULL;
}

static void* write_later(void* arg) {
  int fd = *(int*)arg;
  sleep_ms(40);
  write(fd, "wake", 4);
  return NULL;
}

int main(int argc, char** argv) {
  self_path = argv[0];
  if (argc > 1 && strcmp(argv[1], "flags") == 0) return child_flags();
  if (argc > 1 && strcmp(argv[1], "echo") == 0) return child_echo();
  setvbuf(stdout, NULL, _IOLBF, 0);

  printf("stdin starts with O_NONBLOCK: %d\n", kernel_nonblock(0));
  pthread_t th;
  pthread_create(&th, NULL, read_stdin, NULL);
  pthread_join(th, NULL);
  printf("read %ld bytes of stdin: '%.*s'\n", (long)stdin_len, (int)stdin_len, stdin_text);
  printf("stdin after blocking reads, kernel O_NONBLOCK: %d\n", kernel_nonblock(0));
  char out[64];
  run_child("flags", 0, 1, out, sizeof out);
  printf("a child (preloaded) sees stdin O_NONBLOCK: %s\n", out);
  run_child("flags", 0, 0, out, sizeof out);
  printf("a child (not preloaded) sees stdin O_NONBLOCK: %s\n", out);
  printf("stdout, kernel O_NONBLOCK: %d\n", kernel_nonblock(1));

  /* Descriptors the program made, after green waits on them. */
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  char buf[64];
  pthread_create(&th, NULL, write_later, &sp[1]);
  recv(sp[0], buf, sizeof buf, 0);
  pthread_join(th, NULL);
  printf("socketpair after a blocking recv, kernel O_NONBLOCK: %d\n", kernel_nonblock(sp[0]));
  long queued = fill_socket(sp[1]);
  (void)queued;
  printf("socketpair after a full send path, kernel O_NONBLOCK: %d\n", kernel_nonblock(sp[1]));
  close(sp[0]);
  close(sp[1]);

  int p[2];
  CHECK(pipe(p) == 0);
  pthread_create(&th, NULL, write_later, &p[1]);
  read(p[0], buf, sizeof buf);
  pthread_join(th, NULL);
  printf("pipe after a blocking read, kernel O_NONBLOCK: %d %d\n", kernel_nonblock(p[0]), kernel_nonblock(p[1]));

  int port;
  int l = tcp_listener(8, &port);
  int c = tcp_connect(port);
  printf("tcp socket after a blocking connect, kernel O_NONBLOCK: %d\n", kernel_nonblock(c));
  int a = accept(l, NULL, NULL);
  printf("accepted socket, kernel O_NONBLOCK: %d\n", kernel_nonblock(a));
  /* sendfile into a full socket: the flag is the program's again after. */
  char path[] = "/tmp/greenhub-inherited-XXXXXX";
  int f = mkstemp(path);
  unlink(path);
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  write(f, block, sizeof block);
  off_t off = 0;
  pid_t reader = fork();
  if (reader == 0) {
    long total = 0;
    ssize_t n;
    while (total < (long)sizeof block && (n = read(a, block, sizeof block)) > 0) total += n;
    _exit(total >= (long)sizeof block ? 0 : 1);
  }
  ssize_t sent = sendfile(c, f, &off, sizeof block);
  int status;
  waitpid(reader, &status, 0);
  printf("sendfile sent %ld, reader got it all: %s, kernel O_NONBLOCK after: %d\n", (long)sent,
         WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no", kernel_nonblock(c));
  close(f);
  close(a);
  close(c);
  close(l);

  /* A socket inherited by an exec'd child: the child reads it green, and
   * afterwards neither side's kernel flags changed. */
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(sp[1], 0);
    close(sp[0]);
    close(sp[1]);
    execle(self_path, self_path, "echo", (char*)NULL, environ);
    _exit(127);
  }
  close(sp[1]);
  sleep_ms(50);
  write(sp[0], "ping", 4);
  ssize_t n = read(sp[0], buf, sizeof buf);
  waitpid(pid, &status, 0);
  printf("exec'd child answered: '%.*s', exit %d\n", (int)(n > 0 ? n : 0), buf,
         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  printf("our end after, kernel O_NONBLOCK: %d\n", kernel_nonblock(sp[0]));
  close(sp[0]);
  return 0;
}
