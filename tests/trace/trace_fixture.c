/* A program with known blocking calls, for the greentrace test.
 *
 * main and a thread named "echoer" talk over a socketpair: main sleeps
 * 2 ms (usleep) before each of 10 requests, so the echoer's 10 recv calls
 * each wait; each reply is read back by main. Then main reads a regular
 * file 3 times (passed through to libc) and joins the echoer.
 * Known: 20 recv (10 + 10) and 20 send calls on the socketpair, 10 sleeps,
 * 3 reads of a regular file. Prints what it did; exits 0. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kRequests = 10 };
static int sv[2];

static void* echoer(void* arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "echoer");
  char buf[4];
  for (int i = 0; i < kRequests; ++i) {
    if (recv(sv[1], buf, sizeof buf, 0) != (ssize_t)sizeof buf) exit(3);
    if (send(sv[1], buf, sizeof buf, 0) != (ssize_t)sizeof buf) exit(4);
  }
  return NULL;
}

int main(void) {
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  pthread_t t;
  if (pthread_create(&t, NULL, echoer, NULL) != 0) return 2;
  char buf[4] = {'p', 'i', 'n', 'g'};
  for (int i = 0; i < kRequests; ++i) {
    usleep(2000);
    if (send(sv[0], buf, sizeof buf, 0) != (ssize_t)sizeof buf) return 5;
    if (recv(sv[0], buf, sizeof buf, 0) != (ssize_t)sizeof buf) return 6;
  }
  int fd = open("/proc/self/cmdline", O_RDONLY);
  if (fd < 0) return 7;
  char chunk[1];
  for (int i = 0; i < 3; ++i) {
    if (read(fd, chunk, 1) != 1) return 8;
  }
  close(fd);
  pthread_join(t, NULL);
  printf("echoed %d requests\n", kRequests);
  return 0;
}
