/* sendfile (sendfile64 with _FILE_OFFSET_BITS=64, as Python calls it) from
 * a file into a socket whose reader is slow: the whole count arrives
 * (checksummed), with and without an offset pointer, or up to the end of
 * the file when the count goes past it. Into a pipe, the
 * kernel's blocking sendfile waits for room and moves what fits. Bad
 * input: EBADF, EINVAL, ESPIPE. */
#include <sys/sendfile.h>

#include "fixture.h"

#define SIZE (3 * 1024 * 1024 + 123)

static unsigned long checksum(const unsigned char* p, size_t n, unsigned long h) {
  for (size_t i = 0; i < n; ++i) h = h * 131 + p[i];
  return h;
}

struct reader {
  int fd;
  long bytes;
  unsigned long sum;
};

static void* slow_reader(void* arg) {
  struct reader* r = arg;
  char buf[8192];
  sleep_ms(30);
  ssize_t n;
  while ((n = read(r->fd, buf, sizeof buf)) > 0) {
    r->bytes += n;
    r->sum = checksum((unsigned char*)buf, (size_t)n, r->sum);
  }
  return NULL;
}

static unsigned char* data;

/* Sends from `start` in the file; checks what arrived against the data. */
static void run(const char* what, int wfd, int rfd, int file, off_t* offset, size_t count, size_t start) {
  struct reader r = {rfd, 0, 0};
  pthread_t th;
  pthread_create(&th, NULL, slow_reader, &r);
  ssize_t sent = sendfile(wfd, file, offset, count);
  close(wfd);
  pthread_join(th, NULL);
  int ok = sent > 0 && r.bytes == sent && r.sum == checksum(data + start, (size_t)sent, 0);
  printf("%s: sent %ld, received all of it intact: %s\n", what, (long)sent, ok ? "yes" : "no");
  close(rfd);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  data = malloc(SIZE);
  for (size_t i = 0; i < SIZE; ++i) data[i] = (unsigned char)(i * 13 + (i >> 11));
  char path[] = "/tmp/greenhub-sendfile-XXXXXX";
  int f = mkstemp(path);
  CHECK(f >= 0);
  unlink(path);
  CHECK(write(f, data, SIZE) == SIZE);

  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  off_t off = 0;
  run("socket, with an offset", sp[0], sp[1], f, &off, SIZE, 0);
  printf("offset after: %ld, file position untouched: %s\n", (long)off,
         lseek(f, 0, SEEK_CUR) == SIZE ? "yes" : "no");

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  lseek(f, 1000, SEEK_SET);
  run("socket, from the file position", sp[0], sp[1], f, NULL, SIZE - 1000, 1000);
  printf("file position after: %ld\n", (long)lseek(f, 0, SEEK_CUR));

  int p[2];
  CHECK(pipe(p) == 0);
  off = 5;
  run("pipe", p[1], p[0], f, &off, SIZE, 5);

  int port;
  int l = tcp_listener(4, &port);
  int c = tcp_connect(port);
  int a = accept(l, NULL, NULL);
  off = 0;
  run("tcp", c, a, f, &off, SIZE, 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  off = SIZE - 100;
  run("socket, count past EOF", sp[0], sp[1], f, &off, 1000, SIZE - 100);
  /* Past EOF after waiting for room: the call ends at the end of the file
   * (no further edge of room comes when the last piece fits). */
  c = tcp_connect(port);
  a = accept(l, NULL, NULL);
  off = 5000;
  run("tcp, count past EOF, the reader slow", c, a, f, &off, SIZE, 5000);
  close(l);

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
  off = 0;
  SHOW("sendfile count 0", sendfile(sp[0], f, &off, 0));
  SHOW("sendfile from a closed descriptor", sendfile(sp[0], -1, &off, 10));
  SHOW("sendfile to a closed descriptor", sendfile(-1, f, &off, 10));
  off = -1;
  SHOW("sendfile negative offset", sendfile(sp[0], f, &off, 10));
  SHOW("sendfile from a socket with an offset", sendfile(sp[0], sp[1], &off, 10));
  close(sp[0]);
  close(sp[1]);
  close(f);
  free(data);
  return 0;
}
