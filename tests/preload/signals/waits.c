// Waiting for signals: sigwait, sigwaitinfo, sigtimedwait, sigsuspend, and
// the masks of ppoll, pselect and epoll_pwait. Another thread sends the
// signal while the waiter waits (under the preload with one hub, a wait
// that blocked its OS thread would never let it run), a signal sent to the
// waiting thread itself (pthread_kill, pthread_sigqueue) and its siginfo,
// timeouts, EINTR from a handler, a signal of the set that is not blocked,
// a blocked signal sent to a thread in a read (it must not interrupt it),
// a thread's own mask as it reads it back, and bad input.
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t handled[NSIG];
static pthread_t handled_on[NSIG];

static void handler(int sig) {
  handled[sig]++;
  handled_on[sig] = pthread_self();
}

static void install(int sig, int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static sigset_t just(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return set;
}

static void block(int sig) {
  sigset_t set = just(sig);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void unblock(int sig) {
  sigset_t set = just(sig);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static const char* code_name(int code) {
  switch (code) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_TIMER: return "SI_TIMER";
    case SI_KERNEL: return "SI_KERNEL";
    default: return "other";
  }
}

static void show_info(const char* what, int r, const siginfo_t* info) {
  if (r < 0) {
    printf("%s: -1 %s\n", what, strerror(errno));
    return;
  }
  printf("%s: signal %d, %s, from this process %s, uid ok %s\n", what, r, code_name(info->si_code),
         info->si_pid == getpid() ? "yes" : "no", info->si_uid == getuid() ? "yes" : "no");
}

// --- a thread that signals the process (kill) after a pause -------------------

static void* kill_process_later(void* arg) {
  usleep(50 * 1000);
  kill(getpid(), (int)(long)arg);
  return NULL;
}

static pthread_t start_killer(int sig) {
  pthread_t t;
  pthread_create(&t, NULL, kill_process_later, (void*)(long)sig);
  return t;
}

static void process_signal_waits(void) {
  block(SIGUSR1);
  pthread_t t = start_killer(SIGUSR1);
  sigset_t set = just(SIGUSR1);
  int sig = 0;
  int rc = sigwait(&set, &sig);
  printf("sigwait: rc %d, signal %s\n", rc, sig == SIGUSR1 ? "SIGUSR1" : "other");
  pthread_join(t, NULL);

  t = start_killer(SIGUSR1);
  siginfo_t info;
  show_info("sigwaitinfo, kill from a thread", sigwaitinfo(&set, &info), &info);
  pthread_join(t, NULL);

  t = start_killer(SIGUSR1);
  struct timespec long_wait = {5, 0};
  show_info("sigtimedwait, kill from a thread", sigtimedwait(&set, &info, &long_wait), &info);
  pthread_join(t, NULL);

  // Already pending: taken at once.
  raise(SIGUSR1);
  show_info("sigwaitinfo, raised before", sigwaitinfo(&set, &info), &info);
  sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 7});
  int r = sigwaitinfo(&set, &info);
  show_info("sigwaitinfo, sigqueue before", r, &info);
  printf("  value %d\n", info.si_value.sival_int);
  unblock(SIGUSR1);
}

// --- sigtimedwait's timeout, while other threads run -------------------------

static volatile int ticks;
static volatile int ticking = 1;

static void* ticker(void* arg) {
  (void)arg;
  while (ticking) {
    ticks++;
    usleep(2000);
  }
  return NULL;
}

static void timeouts(void) {
  block(SIGUSR2);
  sigset_t set = just(SIGUSR2);
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);
  usleep(1000);
  struct timespec wait = {0, 60 * 1000 * 1000};
  siginfo_t info;
  int r = sigtimedwait(&set, &info, &wait);
  printf("sigtimedwait 60 ms: %d %s\n", r, r < 0 ? strerror(errno) : "");
  int seen = ticks;
  ticking = 0;
  pthread_join(t, NULL);
  printf("other threads ran during the wait: %s\n", seen >= 1 ? "yes" : "no");
  struct timespec zero = {0, 0};
  r = sigtimedwait(&set, &info, &zero);
  printf("sigtimedwait zero: %d %s\n", r, r < 0 ? strerror(errno) : "");
  unblock(SIGUSR2);
}

// --- signals sent to the waiting thread ----------------------------------------

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int waiter_ready;

static void announce_ready(void) {
  pthread_mutex_lock(&lock);
  waiter_ready = 1;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
}

static void await_ready(void) {
  pthread_mutex_lock(&lock);
  while (!waiter_ready) pthread_cond_wait(&changed, &lock);
  waiter_ready = 0;
  pthread_mutex_unlock(&lock);
  usleep(20 * 1000);  // into its wait (if not, the signal waits pending for it)
}

static siginfo_t directed_info;
static int directed_result;

static void* directed_waiter(void* arg) {
  sigset_t set = just((int)(long)arg);
  announce_ready();
  directed_result = sigwaitinfo(&set, &directed_info);
  return NULL;
}

static void thread_directed_waits(void) {
  block(SIGUSR2);
  block(SIGRTMIN);
  install(SIGUSR2, 0);  // a handler does not matter: the waiter takes the signal
  pthread_t t;
  pthread_create(&t, NULL, directed_waiter, (void*)(long)SIGUSR2);
  await_ready();
  pthread_kill(t, SIGUSR2);
  pthread_join(t, NULL);
  show_info("sigwaitinfo in a thread, pthread_kill", directed_result, &directed_info);
  printf("  handler ran: %d\n", (int)handled[SIGUSR2]);

  pthread_create(&t, NULL, directed_waiter, (void*)(long)SIGRTMIN);
  await_ready();
  pthread_sigqueue(t, SIGRTMIN, (union sigval){.sival_int = 42});
  pthread_join(t, NULL);
  show_info("sigwaitinfo in a thread, pthread_sigqueue", directed_result, &directed_info);
  printf("  value %d\n", directed_info.si_value.sival_int);
  unblock(SIGRTMIN);
  unblock(SIGUSR2);
  signal(SIGUSR2, SIG_DFL);
}

// --- EINTR, and a signal of the set left unblocked -----------------------------

static void interrupted_and_unblocked(void) {
  install(SIGALRM, SA_RESTART);  // sigtimedwait is never restarted
  block(SIGUSR1);
  struct itimerval in50ms = {{0, 0}, {0, 50 * 1000}};
  setitimer(ITIMER_REAL, &in50ms, NULL);
  sigset_t set = just(SIGUSR1);
  struct timespec long_wait = {5, 0};
  int r = sigtimedwait(&set, NULL, &long_wait);
  printf("sigtimedwait, SIGALRM handled: %d %s, handler ran %d\n", r, r < 0 ? strerror(errno) : "",
         (int)handled[SIGALRM]);
  setitimer(ITIMER_REAL, &in50ms, NULL);
  r = sigwaitinfo(&set, NULL);
  printf("sigwaitinfo, SIGALRM handled: %d %s, handler ran %d\n", r, r < 0 ? strerror(errno) : "",
         (int)handled[SIGALRM]);
  unblock(SIGUSR1);

  // Not blocked, with a handler: the wait takes it, the handler does not run.
  install(SIGUSR1, 0);
  pthread_t t = start_killer(SIGUSR1);
  int sig = 0;
  r = sigwait(&set, &sig);
  pthread_join(t, NULL);
  printf("sigwait on an unblocked signal: rc %d signal %d handler ran %d\n", r, sig,
         (int)handled[SIGUSR1]);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  printf("  still unblocked after: %s\n", sigismember(&mask, SIGUSR1) ? "no" : "yes");
}

// --- sigsuspend ----------------------------------------------------------------

static int suspend_result, suspend_errno;

static void* suspender(void* arg) {
  (void)arg;
  sigset_t empty;
  sigemptyset(&empty);
  announce_ready();
  suspend_result = sigsuspend(&empty);
  suspend_errno = errno;
  return NULL;
}

static void suspends(void) {
  install(SIGUSR1, 0);
  handled[SIGUSR1] = 0;
  block(SIGUSR1);
  sigset_t empty;
  sigemptyset(&empty);
  pthread_t t = start_killer(SIGUSR1);
  int r = sigsuspend(&empty);
  printf("sigsuspend, kill from a thread: %d %s, handler ran %d\n", r, strerror(errno),
         (int)handled[SIGUSR1]);
  pthread_join(t, NULL);
  raise(SIGUSR1);
  r = sigsuspend(&empty);
  printf("sigsuspend, raised before: %d %s, handler ran %d\n", r, strerror(errno), (int)handled[SIGUSR1]);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  printf("  mask restored: %s\n", sigismember(&mask, SIGUSR1) ? "yes" : "no");

  // Sent to a thread in sigsuspend: its handler runs on that thread.
  install(SIGUSR2, 0);
  block(SIGUSR2);
  pthread_create(&t, NULL, suspender, NULL);
  await_ready();
  pthread_kill(t, SIGUSR2);
  pthread_join(t, NULL);
  printf("sigsuspend in a thread, pthread_kill: %d %s, handler ran %d, on that thread %s\n",
         suspend_result, strerror(suspend_errno), (int)handled[SIGUSR2],
         pthread_equal(handled_on[SIGUSR2], t) ? "yes" : "no");
  unblock(SIGUSR2);
  unblock(SIGUSR1);
}

// --- the masks of ppoll, pselect, epoll_pwait ------------------------------------

static void masked_polls(void) {
  handled[SIGUSR1] = 0;
  block(SIGUSR1);
  int p[2];
  pipe(p);
  sigset_t empty;
  sigemptyset(&empty);

  pthread_t t = start_killer(SIGUSR1);
  struct pollfd pfd = {p[0], POLLIN, 0};
  int r = ppoll(&pfd, 1, NULL, &empty);
  printf("ppoll with a mask: %d %s, handler ran %d\n", r, r < 0 ? strerror(errno) : "",
         (int)handled[SIGUSR1]);
  pthread_join(t, NULL);

  t = start_killer(SIGUSR1);
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  r = pselect(p[0] + 1, &rd, NULL, NULL, NULL, &empty);
  printf("pselect with a mask: %d %s, handler ran %d\n", r, r < 0 ? strerror(errno) : "",
         (int)handled[SIGUSR1]);
  pthread_join(t, NULL);

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]};
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  t = start_killer(SIGUSR1);
  struct epoll_event out;
  r = epoll_pwait(ep, &out, 1, -1, &empty);
  printf("epoll_pwait with a mask: %d %s, handler ran %d\n", r, r < 0 ? strerror(errno) : "",
         (int)handled[SIGUSR1]);
  pthread_join(t, NULL);

  // Without the mask the blocked signal waits: the poll times out.
  t = start_killer(SIGUSR1);
  r = ppoll(&pfd, 1, &(struct timespec){0, 150 * 1000 * 1000}, NULL);
  pthread_join(t, NULL);
  printf("ppoll without a mask: %d, handler ran %d\n", r, (int)handled[SIGUSR1]);
  sigset_t set = just(SIGUSR1);
  r = sigwaitinfo(&set, NULL);
  printf("  then taken by sigwaitinfo: %d\n", r);
  close(ep);
  close(p[0]);
  close(p[1]);
  unblock(SIGUSR1);
}

// --- a blocked signal sent to a thread in a read ----------------------------------

static int reader_pipe[2];
static int read_result, handled_after_read, handled_after_unblock;

static void* blocked_reader(void* arg) {
  (void)arg;
  block(SIGUSR2);
  announce_ready();
  char c;
  read_result = (int)read(reader_pipe[0], &c, 1);
  handled_after_read = handled[SIGUSR2];
  unblock(SIGUSR2);  // pending for this thread: delivered now
  handled_after_unblock = handled[SIGUSR2];
  return NULL;
}

static void blocked_signal_to_reader(void) {
  install(SIGUSR2, 0);
  handled[SIGUSR2] = 0;
  pipe(reader_pipe);
  pthread_t t;
  pthread_create(&t, NULL, blocked_reader, NULL);
  await_ready();
  pthread_kill(t, SIGUSR2);
  usleep(30 * 1000);
  write(reader_pipe[1], "x", 1);
  pthread_join(t, NULL);
  printf("read with the signal blocked: %d, handler ran %d, then %d once unblocked\n", read_result,
         handled_after_read, handled_after_unblock);
  close(reader_pipe[0]);
  close(reader_pipe[1]);
}

// --- a thread's own mask: read back, pending signals delivered on unblocking ------

static void* mask_user(void* arg) {
  (void)arg;
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  printf("thread starts with SIGTERM blocked: %s, SIGUSR1: %s\n", sigismember(&mask, SIGTERM) ? "yes" : "no",
         sigismember(&mask, SIGUSR1) ? "yes" : "no");
  block(SIGUSR2);
  sigprocmask(SIG_BLOCK, NULL, &mask);
  printf("  after blocking SIGUSR2: %s, SIGTERM %s\n", sigismember(&mask, SIGUSR2) ? "blocked" : "not blocked",
         sigismember(&mask, SIGTERM) ? "blocked" : "not blocked");
  handled[SIGUSR2] = 0;
  raise(SIGUSR2);
  printf("  raised while blocked: handler ran %d\n", (int)handled[SIGUSR2]);
  unblock(SIGUSR2);
  printf("  unblocked: handler ran %d\n", (int)handled[SIGUSR2]);
  sigset_t set = just(SIGUSR2);
  printf("  pthread_sigmask bad how: %s\n", strerror(pthread_sigmask(12345, &set, NULL)));
  int r = sigprocmask(12345, &set, NULL);
  printf("  sigprocmask bad how: %d %s\n", r, strerror(errno));
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  printf("  fill: SIGKILL blocked %s, SIGSTOP blocked %s, SIGUSR1 blocked %s\n",
         sigismember(&mask, SIGKILL) ? "yes" : "no", sigismember(&mask, SIGSTOP) ? "yes" : "no",
         sigismember(&mask, SIGUSR1) ? "yes" : "no");
  sigemptyset(&all);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  return NULL;
}

// Another thread's blocking is not this thread's; a new thread inherits
// its creator's mask.
static int stage;

static void* masker(void* arg) {
  (void)arg;
  block(SIGUSR1);
  pthread_mutex_lock(&lock);
  stage = 1;
  pthread_cond_broadcast(&changed);
  while (stage != 2) pthread_cond_wait(&changed, &lock);
  pthread_mutex_unlock(&lock);
  return NULL;
}

static void* inheritor(void* arg) {
  (void)arg;
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  printf("  created with SIGUSR2 blocked by its creator: %s\n", sigismember(&mask, SIGUSR2) ? "yes" : "no");
  return NULL;
}

static void thread_masks(void) {
  install(SIGUSR2, 0);
  pthread_t t;
  pthread_create(&t, NULL, mask_user, NULL);
  pthread_join(t, NULL);

  stage = 0;
  pthread_create(&t, NULL, masker, NULL);
  pthread_mutex_lock(&lock);
  while (stage != 1) pthread_cond_wait(&changed, &lock);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  printf("SIGUSR1 blocked by another thread, seen here: %s\n", sigismember(&mask, SIGUSR1) ? "yes" : "no");
  // Process-directed, while the other thread blocks it: main handles it.
  handled[SIGUSR1] = 0;
  install(SIGUSR1, 0);
  kill(getpid(), SIGUSR1);
  printf("  kill(getpid()) meanwhile: handler ran %d, on main %s\n", (int)handled[SIGUSR1],
         pthread_equal(handled_on[SIGUSR1], pthread_self()) ? "yes" : "no");
  stage = 2;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  pthread_join(t, NULL);

  block(SIGUSR2);
  pthread_create(&t, NULL, inheritor, NULL);
  pthread_join(t, NULL);
  unblock(SIGUSR2);
}

// --- bad input -------------------------------------------------------------------

static void bad_input(void) {
  sigset_t set = just(SIGUSR2);
  block(SIGUSR2);
  struct timespec bad_ns = {0, -1}, bad_sec = {-1, 0}, big_ns = {0, 1000000000};
  int r = sigtimedwait(&set, NULL, &bad_ns);
  printf("sigtimedwait tv_nsec -1: %d %s\n", r, strerror(errno));
  r = sigtimedwait(&set, NULL, &bad_sec);
  printf("sigtimedwait tv_sec -1: %d %s\n", r, strerror(errno));
  r = sigtimedwait(&set, NULL, &big_ns);
  printf("sigtimedwait tv_nsec 1e9: %d %s\n", r, strerror(errno));
  r = sigtimedwait(&set, NULL, (const struct timespec*)8);
  printf("sigtimedwait bad timeout pointer: %d %s\n", r, strerror(errno));
  r = sigwaitinfo((const sigset_t*)8, NULL);
  printf("sigwaitinfo bad set pointer: %d %s\n", r, strerror(errno));
  int sig = 0;
  r = sigwait((const sigset_t*)8, &sig);
  printf("sigwait bad set pointer: %d (%s)\n", r, strerror(r));
  r = sigsuspend((const sigset_t*)8);
  printf("sigsuspend bad mask pointer: %d %s\n", r, strerror(errno));
  unblock(SIGUSR2);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  process_signal_waits();
  timeouts();
  thread_directed_waits();
  interrupted_and_unblocked();
  suspends();
  masked_polls();
  blocked_signal_to_reader();
  thread_masks();
  bad_input();
  return 0;
}
