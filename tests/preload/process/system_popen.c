// system, popen/pclose, posix_spawn/posix_spawnp: results, error cases,
// signal dispositions around system(), the child's signal mask, and that
// other threads keep running while one waits for a command.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static volatile int ticking = 0, ticks = 0;
static void* ticker(void* arg) {
  (void)arg;
  while (ticking) {
    usleep(10000);
    ticks++;
  }
  return NULL;
}
static pthread_t start_ticker(void) {
  ticks = 0;
  ticking = 1;
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);
  return t;
}
static int stop_ticker(pthread_t t) {
  int n = ticks;
  ticking = 0;
  pthread_join(t, NULL);
  return n;
}

static volatile sig_atomic_t sigchld_seen;
static void on_sigchld(int sig) {
  (void)sig;
  sigchld_seen++;
}
static void on_sigint(int sig) { (void)sig; }

static void describe(const char* what, int status) {
  if (status == -1) printf("%s: -1 errno=%d\n", what, errno);
  else if (WIFEXITED(status)) printf("%s: exited %d\n", what, WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) printf("%s: killed by %d\n", what, WTERMSIG(status));
  else printf("%s: status %d\n", what, status);
}

struct spawn_result {
  int rc;
  int status;
  char output[256];
};

// Runs argv with posix_spawn(p), its stdout read through a pipe.
static struct spawn_result spawn_and_read(int use_path, const char* file, char* const argv[],
                                          const posix_spawnattr_t* attr) {
  struct spawn_result r;
  memset(&r, 0, sizeof r);
  int fds[2];
  if (pipe(fds) != 0) abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = 0;
  r.rc = use_path ? posix_spawnp(&pid, file, &actions, attr, argv, environ)
                  : posix_spawn(&pid, file, &actions, attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  size_t used = 0;
  for (ssize_t n; (n = read(fds[0], r.output + used, sizeof r.output - 1 - used)) > 0;) used += (size_t)n;
  close(fds[0]);
  if (r.rc == 0) waitpid(pid, &r.status, 0);
  return r;
}

static void* system_from_a_thread(void* arg) {
  (void)arg;
  describe("system from a thread", system("exit 9"));
  char* argv[] = {"sh", "-c", "grep SigBlk /proc/self/status", NULL};
  struct spawn_result s = spawn_and_read(0, "/bin/sh", argv, NULL);
  printf("posix_spawn from a thread: rc=%d %s", s.rc, s.output);
  FILE* f = popen("grep SigBlk /proc/self/status", "r");
  char line[128] = "";
  if (fgets(line, sizeof line, f) == NULL) strcpy(line, "nothing\n");
  printf("popen from a thread: %s", line);
  describe("pclose from a thread", pclose(f));
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);

  // system(): results.
  describe("system(exit 3)", system("exit 3"));
  describe("system(true)", system("true"));
  describe("system(empty)", system(""));
  describe("system(missing command)", system("/nonexistent/command 2>/dev/null"));
  describe("system(kill -TERM $$)", system("kill -TERM $$"));
  printf("system(NULL): %d\n", system(NULL));

  // Dispositions: SIGINT is ignored while the command runs, and restored;
  // SIGCHLD is blocked during the call, so a handler sees the child's
  // SIGCHLD only after system() returns.
  signal(SIGINT, on_sigint);
  signal(SIGCHLD, on_sigchld);
  describe("system(kill -INT $PPID; exit 4)", system("kill -INT $PPID; exit 4"));
  struct sigaction now;
  sigaction(SIGINT, NULL, &now);
  printf("SIGINT handler restored: %d; SIGCHLD handler ran after: %d\n",
         now.sa_handler == on_sigint, (int)sigchld_seen);
  signal(SIGCHLD, SIG_DFL);

  // Other threads run while system() waits.
  pthread_t t = start_ticker();
  describe("system(sleep 0.3)", system("sleep 0.3"));
  printf("the other thread ran meanwhile: %d\n", stop_ticker(t) >= 5);

  // popen/pclose.
  FILE* f = popen("echo one; echo two; exit 5", "r");
  char line[128];
  while (fgets(line, sizeof line, f) != NULL) printf("popen read: %s", line);
  describe("pclose(r)", pclose(f));
  f = popen("wc -l", "w");
  fputs("a\nb\nc\n", f);
  fflush(stdout);
  describe("pclose(w)", pclose(f));
  f = popen("cat >/dev/null; exit 2", "we");
  for (int i = 0; i < 2000; ++i) fputs("lots of data for the child to read\n", f);
  describe("pclose(w, lots)", pclose(f));
  errno = 0;
  f = popen("true", "x");
  printf("popen bad mode: %p errno=%d\n", (void*)f, errno);
  t = start_ticker();
  f = popen("sleep 0.3; echo late", "r");
  describe("pclose(sleep 0.3, unread)", pclose(f));
  printf("the other thread ran meanwhile: %d\n", stop_ticker(t) >= 5);

  // posix_spawn / posix_spawnp.
  char* echo_argv[] = {"echo", "spawned", NULL};
  struct spawn_result s = spawn_and_read(0, "/bin/echo", echo_argv, NULL);
  printf("posix_spawn: rc=%d output=%s", s.rc, s.output);
  describe("its status", s.status);
  s = spawn_and_read(1, "echo", echo_argv, NULL);
  printf("posix_spawnp: rc=%d output=%s", s.rc, s.output);
  s = spawn_and_read(0, "/nonexistent/program", echo_argv, NULL);
  printf("posix_spawn missing program: rc=%d\n", s.rc);
  s = spawn_and_read(1, "nonexistent-program-name", echo_argv, NULL);
  printf("posix_spawnp missing program: rc=%d\n", s.rc);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR2);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  char* mask_argv[] = {"sh", "-c", "grep SigBlk /proc/self/status", NULL};
  s = spawn_and_read(0, "/bin/sh", mask_argv, &attr);
  printf("posix_spawn with a mask: %s", s.output);
  posix_spawnattr_destroy(&attr);

  // The same from threads (some run on other hubs than main's): the
  // children get the thread's signal mask, the program's.
  for (int i = 0; i < 3; ++i) {
    pthread_t th;
    pthread_create(&th, NULL, system_from_a_thread, NULL);
    pthread_join(th, NULL);
  }
  return 0;
}
