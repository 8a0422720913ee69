// fork, vfork, _Fork: the child keeps only the forking thread, which can go
// on creating threads; siblings asleep at fork time never run in the child;
// a mutex another thread held stays locked; the child's signal mask is the
// forking thread's; the child of a thread ends when its last thread ends.
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_tasks(void) {
  DIR* d = opendir("/proc/self/task");
  int n = 0;
  for (struct dirent* e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void say(const char* text) {
  // write(2): no stdio buffer to duplicate into the child.
  if (write(1, text, strlen(text)) < 0) _exit(99);
}

static int wait_status(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
  return -2;
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static int holder_ready;
static volatile int release_holder;

// Holds `held` and sleeps until main releases it: in a child it never
// runs again, and `held` stays locked there.
static void* holder(void* arg) {
  (void)arg;
  pthread_mutex_lock(&held);
  pthread_mutex_lock(&ready_lock);
  holder_ready = 1;
  pthread_cond_signal(&ready_cond);
  pthread_mutex_unlock(&ready_lock);
  while (!release_holder) usleep(5000);
  pthread_mutex_unlock(&held);
  say("holder released the mutex\n");
  return NULL;
}

static void* add_one(void* arg) { return (void*)((intptr_t)arg + 1); }

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}

// What a forked child checks, whoever forked it.
static void child_checks(const char* who) {
  char line[160];
  snprintf(line, sizeof line, "%s child: tasks=%d trylock held=%d\n", who, count_tasks(),
           pthread_mutex_trylock(&held));
  say(line);
  // The child goes on creating threads, and they work.
  pthread_t t[4];
  intptr_t sum = 0;
  for (intptr_t i = 0; i < 4; ++i) pthread_create(&t[i], NULL, add_one, (void*)i);
  for (int i = 0; i < 4; ++i) {
    void* r;
    pthread_join(t[i], &r);
    sum += (intptr_t)r;
  }
  usleep(20000);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  snprintf(line, sizeof line, "%s child: threads summed %ld, SIGTERM blocked=%d SIGUSR1 blocked=%d\n",
           who, (long)sum, sigismember(&mask, SIGTERM), sigismember(&mask, SIGUSR1));
  say(line);
  // The child's only thread gets the process-directed signals: a handler
  // interrupts its sleep.
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  struct timespec ts = {2, 0};
  errno = 0;
  int rc = nanosleep(&ts, NULL);
  snprintf(line, sizeof line, "%s child: sleep during an alarm: rc=%d errno=%d alarms=%d\n", who, rc,
           errno, (int)alarms);
  say(line);
}

static void* thread_forks(void* arg) {
  const char* who = arg;
  pid_t pid = fork();
  if (pid == 0) {
    child_checks(who);
    // Returning ends the child's last thread: the child exits with 0.
    return NULL;
  }
  char line[96];
  snprintf(line, sizeof line, "%s: child status %d\n", who, wait_status(pid));
  say(line);
  return NULL;
}

static int prepared, parented, childed;
static void on_prepare(void) { prepared++; }
static void on_parent(void) { parented++; }
static void on_child(void) { childed++; }

int main(void) {
  pthread_atfork(on_prepare, on_parent, on_child);
  pthread_t h;
  pthread_create(&h, NULL, holder, NULL);
  pthread_mutex_lock(&ready_lock);
  while (!holder_ready) pthread_cond_wait(&ready_cond, &ready_lock);
  pthread_mutex_unlock(&ready_lock);

  // From main.
  pid_t pid = fork();
  if (pid == 0) {
    child_checks("main");
    char line[64];
    snprintf(line, sizeof line, "main child: atfork child handler ran %d\n", childed);
    say(line);
    exit(3);
  }
  char line[128];
  snprintf(line, sizeof line, "main: child status %d, prepare %d parent %d child %d\n",
           wait_status(pid), prepared, parented, childed);
  say(line);

  // From threads (several, so that some run on other hubs than main's).
  const char* names[] = {"thread A", "thread B", "thread C"};
  for (int i = 0; i < 3; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, thread_forks, (void*)names[i]);
    pthread_join(t, NULL);
  }

  release_holder = 1;
  pthread_join(h, NULL);

  // A child that forks again.
  pid = fork();
  if (pid == 0) {
    pid_t grandchild = fork();
    if (grandchild == 0) {
      child_checks("grandchild");
      _exit(5);
    }
    snprintf(line, sizeof line, "child: grandchild status %d\n", wait_status(grandchild));
    say(line);
    _exit(4);
  }
  snprintf(line, sizeof line, "main: child status %d\n", wait_status(pid));
  say(line);

  // vfork: the parent resumes once the child has exec'ed or exited.
  pid = vfork();
  if (pid == 0) {
    if (write(1, "vfork child before exec\n", 24) < 0) _exit(98);
    // What the exec'ed shell would print races with the parent: its exit
    // status is the proof that it ran.
    execl("/bin/sh", "sh", "-c", "exit 6", (char*)NULL);
    _exit(127);
  }
  say("vfork parent resumed\n");
  snprintf(line, sizeof line, "vfork: child status %d\n", wait_status(pid));
  say(line);
  pid = vfork();
  if (pid == 0) _exit(7);
  snprintf(line, sizeof line, "vfork _exit: child status %d\n", wait_status(pid));
  say(line);

  // _Fork: no atfork handlers.
  const int prepared_before = prepared;
  pid = _Fork();
  if (pid == 0) _exit(8);
  snprintf(line, sizeof line, "_Fork: child status %d, atfork handlers run %d\n", wait_status(pid),
           prepared - prepared_before);
  say(line);

  return 0;
}
