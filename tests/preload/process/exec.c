// The exec family: the new image keeps the preload through the environment
// (and runs without it when the program strips LD_PRELOAD from envp), every
// exec variant works, the new image gets the calling thread's signal mask,
// and a failed exec returns its error with the mask unchanged.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

static int preload_mapped(void) {
  FILE* f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, f) != NULL) found |= strstr(line, "libgreenhub_preload") != NULL;
  fclose(f);
  return found;
}

static void blocked_signals(char* out, size_t size) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[48];
  snprintf(out, size, "?");
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "SigBlk:", 7) == 0) {
      snprintf(out, size, "%s", line + 8);
      out[strcspn(out, "\n")] = '\0';
    }
  }
  fclose(f);
}

// The exec'ed image: reports how it was started.
static int report(const char* how) {
  char mask[64];
  blocked_signals(mask, sizeof mask);
  printf("%s mapped=%d blocked=%s\n", how, preload_mapped(), mask);
  return 0;
}

// Runs `exec_it` in a child whose stdout is read back.
static void run(const char* label, void (*exec_it)(void)) {
  int fds[2];
  if (pipe(fds) != 0) abort();
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    exec_it();
    printf("%s failed: errno=%d\n", label, errno);
    fflush(stdout);
    _exit(1);
  }
  close(fds[1]);
  char buf[512] = "";
  size_t used = 0;
  for (ssize_t n; (n = read(fds[0], buf + used, sizeof buf - 1 - used)) > 0;) used += (size_t)n;
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  // The child's preload state, relative to ours.
  int mapped = -1;
  char how[64] = "", mask[64] = "";
  if (sscanf(buf, "%63s mapped=%d blocked=%63s", how, &mapped, mask) != 3) {
    printf("%s: unexpected output: %s", label, buf);
    return;
  }
  // With LD_PRELOAD stripped from its environment the child runs without
  // the preload, natively or not.
  const char* preload = strcmp(how, "stripped") == 0 ? (mapped ? "present" : "absent")
                        : mapped == preload_mapped()  ? "as in the parent"
                        : mapped                      ? "added"
                                                      : "dropped";
  printf("%s: ran as %s, preload %s, blocked=%s, exit %d\n", label, how, preload, mask,
         WEXITSTATUS(status));
}

static char self[4096];

static void do_execv(void) { execv(self, (char* const[]){"exec", "execv", NULL}); }
static void do_execve(void) { execve(self, (char* const[]){"exec", "execve", NULL}, environ); }
static void do_execvp(void) { execvp(self, (char* const[]){"exec", "execvp", NULL}); }
static void do_execvpe(void) { execvpe(self, (char* const[]){"exec", "execvpe", NULL}, environ); }
static void do_execl(void) { execl(self, "exec", "execl", (char*)NULL); }
static void do_execlp(void) { execlp(self, "exec", "execlp", (char*)NULL); }
static void do_execle(void) { execle(self, "exec", "execle", (char*)NULL, environ); }
static void do_fexecve(void) {
  int fd = open(self, O_RDONLY | O_CLOEXEC);
  fexecve(fd, (char* const[]){"exec", "fexecve", NULL}, environ);
}
static void do_execveat(void) {
  execveat(AT_FDCWD, self, (char* const[]){"exec", "execveat", NULL}, environ, 0);
}

// An environment without LD_PRELOAD: the program means its child native.
static void do_execve_stripped(void) {
  static char* env[256];
  int n = 0;
  for (char** e = environ; *e != NULL && n < 255; ++e) {
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0) env[n++] = *e;
  }
  env[n] = NULL;
  execve(self, (char* const[]){"exec", "stripped", NULL}, env);
}

static void* napping(void* arg) {
  (void)arg;
  for (;;) usleep(10000);
  return NULL;
}
static void* exec_now(void* arg) {
  (void)arg;
  do_execv();
  return NULL;
}
// In the child, exec from the second thread it creates (with two hubs it
// runs on the other hub's OS thread), without another fork in between.
static void do_exec_in_a_thread(void) {
  pthread_t a, b;
  pthread_create(&a, NULL, napping, NULL);
  pthread_create(&b, NULL, exec_now, NULL);
  pthread_join(b, NULL);
}

static void* exec_from_a_thread(void* arg) {
  (void)arg;
  run("execv from a thread", do_execv);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc == 2) return report(argv[1]);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) abort();
  self[n] = '\0';
  setvbuf(stdout, NULL, _IOLBF, 0);

  run("execv", do_execv);
  run("execve", do_execve);
  run("execvp", do_execvp);
  run("execvpe", do_execvpe);
  run("execl", do_execl);
  run("execlp", do_execlp);
  run("execle", do_execle);
  run("fexecve", do_fexecve);
  run("execveat", do_execveat);
  run("execve, LD_PRELOAD stripped", do_execve_stripped);
  run("execv in a thread of the child", do_exec_in_a_thread);
  for (int i = 0; i < 3; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, exec_from_a_thread, NULL);
    pthread_join(t, NULL);
  }

  // A failed exec: its error, and the signal mask as it was.
  sigset_t before, after;
  pthread_sigmask(SIG_BLOCK, NULL, &before);
  errno = 0;
  int rc = execv("/nonexistent/program", (char* const[]){"x", NULL});
  int error = errno;
  pthread_sigmask(SIG_BLOCK, NULL, &after);
  printf("failed execv: rc=%d errno=%d mask unchanged=%d\n", rc, error,
         memcmp(&before, &after, sizeof before) == 0);
  errno = 0;
  rc = execl("/etc/hostname", "x", (char*)NULL);
  printf("execl of a non-executable: rc=%d errno=%d\n", rc, errno);
  return 0;
}
