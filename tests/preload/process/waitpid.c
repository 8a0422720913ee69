// Waiting for children: waitpid, wait, wait3, wait4, waitid (P_PID, P_ALL,
// P_PIDFD, WNOWAIT), stopped and continued children, bad input, EINTR from a
// handler without SA_RESTART, the restart with SA_RESTART, and that other
// threads keep running while one waits.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child_exiting(int code, int after_ms) {
  pid_t pid = fork();
  if (pid == 0) {
    usleep(after_ms * 1000);
    _exit(code);
  }
  return pid;
}

static volatile int ticking = 0, ticks = 0;

// Counts 10 ms naps while `ticking`: progress made while another thread
// waits.
static void* ticker(void* arg) {
  (void)arg;
  while (ticking) {
    usleep(10000);
    ticks++;
  }
  return NULL;
}

static volatile sig_atomic_t handled;
static void on_alarm(int sig) {
  (void)sig;
  handled++;
}

static void install_alarm(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = flags;
  sigaction(SIGALRM, &sa, NULL);
}

static void alarm_in(int ms) {
  struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  int status = 0;

  // A specific child, while another thread keeps ticking.
  ticking = 1;
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);
  pid_t pid = child_exiting(7, 300);
  pid_t r = waitpid(pid, &status, 0);
  int during = ticks;
  ticking = 0;
  pthread_join(t, NULL);
  printf("waitpid: returned the child=%d exited=%d code=%d; the other thread ran meanwhile=%d\n",
         r == pid, WIFEXITED(status), WEXITSTATUS(status), during >= 5);

  // WNOHANG while it runs, then the exit.
  pid = child_exiting(8, 100);
  r = waitpid(pid, &status, WNOHANG);
  printf("WNOHANG on a running child: %d\n", r);
  r = waitpid(pid, &status, 0);
  printf("then waitpid: child=%d code=%d\n", r == pid, WEXITSTATUS(status));

  // Bad input and children that are not ours.
  errno = 0;
  r = waitpid(1, &status, 0);
  printf("waitpid(1): %d errno=%d\n", r, errno);
  errno = 0;
  r = waitpid(-1, &status, 0);
  printf("waitpid(-1) without children: %d errno=%d\n", r, errno);
  errno = 0;
  r = waitpid(getpid(), &status, 0x10000);
  printf("waitpid bad options: %d errno=%d\n", r, errno);
  errno = 0;
  r = wait(&status);
  printf("wait without children: %d errno=%d\n", r, errno);

  // wait(), wait3(), wait4() with resource usage.
  pid = child_exiting(9, 50);
  r = wait(&status);
  printf("wait: child=%d code=%d\n", r == pid, WEXITSTATUS(status));
  pid = child_exiting(10, 50);
  struct rusage usage;
  memset(&usage, 0xff, sizeof usage);
  r = wait4(pid, &status, 0, &usage);
  printf("wait4: child=%d code=%d usage filled=%d\n", r == pid, WEXITSTATUS(status),
         usage.ru_utime.tv_sec >= 0 && usage.ru_utime.tv_sec < 1000);
  pid = child_exiting(11, 50);
  r = wait3(&status, 0, NULL);
  printf("wait3: child=%d code=%d\n", r == pid, WEXITSTATUS(status));

  // waitid: P_PID, WNOWAIT (the child stays waitable), P_ALL, P_PIDFD.
  pid = child_exiting(12, 100);
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int rc = waitid(P_PID, pid, &info, WEXITED | WNOWAIT);
  printf("waitid WNOWAIT: rc=%d pid=%d code=%d status=%d\n", rc, info.si_pid == pid, info.si_code,
         info.si_status);
  memset(&info, 0, sizeof info);
  rc = waitid(P_ALL, 0, &info, WEXITED);
  printf("waitid P_ALL: rc=%d pid=%d status=%d\n", rc, info.si_pid == pid, info.si_status);
  pid = child_exiting(13, 100);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  memset(&info, 0, sizeof info);
  rc = waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED);
  printf("waitid P_PIDFD: rc=%d pid=%d status=%d\n", rc, info.si_pid == pid, info.si_status);
  close(pidfd);
  errno = 0;
  rc = waitid(P_PID, pid, &info, WEXITED);
  printf("waitid on a reaped child: %d errno=%d\n", rc, errno);
  errno = 0;
  rc = waitid(P_PID, getpid(), &info, 0);
  printf("waitid without WEXITED/WSTOPPED/WCONTINUED: %d errno=%d\n", rc, errno);
  pid = child_exiting(14, 100);
  memset(&info, 0, sizeof info);
  rc = waitid(P_PID, pid, &info, WEXITED | WNOHANG);
  printf("waitid WNOHANG on a running child: rc=%d si_pid=%d\n", rc, info.si_pid);
  rc = waitid(P_PID, pid, NULL, WEXITED);
  printf("waitid with no siginfo: rc=%d; child reaped=%d\n", rc, waitpid(pid, NULL, WNOHANG) == -1);

  // Stopped and continued children.
  pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  kill(pid, SIGSTOP);
  r = waitpid(pid, &status, WUNTRACED);
  printf("WUNTRACED: child=%d stopped=%d by=%d\n", r == pid, WIFSTOPPED(status), WSTOPSIG(status));
  kill(pid, SIGCONT);
  r = waitpid(pid, &status, WCONTINUED);
  printf("WCONTINUED: child=%d continued=%d\n", r == pid, WIFCONTINUED(status));
  kill(pid, SIGTERM);
  r = waitpid(pid, &status, 0);
  printf("killed: child=%d signaled=%d by=%d\n", r == pid, WIFSIGNALED(status), WTERMSIG(status));

  // A handler without SA_RESTART interrupts waitpid; with SA_RESTART it
  // does not.
  install_alarm(0);
  pid = child_exiting(15, 400);
  alarm_in(100);
  errno = 0;
  r = waitpid(pid, &status, 0);
  printf("waitpid, handler without SA_RESTART: %d errno=%d handled=%d\n", r, errno, (int)handled);
  r = waitpid(pid, &status, 0);
  printf("waitpid again: child=%d code=%d\n", r == pid, WEXITSTATUS(status));
  install_alarm(SA_RESTART);
  handled = 0;
  pid = child_exiting(16, 400);
  alarm_in(100);
  r = waitpid(pid, &status, 0);
  printf("waitpid, SA_RESTART handler: child=%d code=%d handled=%d\n", r == pid,
         WEXITSTATUS(status), (int)handled);
  install_alarm(0);
  handled = 0;
  pid = child_exiting(17, 400);
  alarm_in(100);
  memset(&info, 0, sizeof info);
  errno = 0;
  rc = waitid(P_PID, pid, &info, WEXITED);
  printf("waitid, handler without SA_RESTART: %d errno=%d\n", rc, errno);
  rc = waitid(P_PID, pid, &info, WEXITED);
  printf("waitid again: rc=%d status=%d\n", rc, info.si_status);
  pid = child_exiting(18, 300);
  alarm_in(100);
  errno = 0;
  r = wait(&status);
  printf("wait, handler without SA_RESTART: %d errno=%d\n", r, errno);
  r = wait(&status);
  printf("wait again: child=%d code=%d\n", r == pid, WEXITSTATUS(status));
  return 0;
}
