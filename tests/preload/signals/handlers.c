// Installing and querying signal handlers through every libc interface
// (sigaction, signal, bsd_signal, sysv_signal, sigset, siginterrupt), what
// the handlers receive (siginfo from sigqueue and pthread_sigqueue), the
// flags that act at delivery (SA_RESETHAND, SA_NODEFER, the handler's mask),
// raise and pthread_kill from threads, and bad input.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// siginterrupt is deprecated, and programs still call it.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// Exported by glibc, no longer declared by its headers.
extern __sighandler_t bsd_signal(int sig, __sighandler_t handler);

static volatile sig_atomic_t count, nested, depth, max_depth;
static volatile int last_signo, last_code, last_value;
static pthread_t ran_as;

static void plain(int sig) {
  count++;
  last_signo = sig;
  ran_as = pthread_self();
}

static void with_info(int sig, siginfo_t* info, void* context) {
  (void)context;
  count++;
  last_signo = sig;
  last_code = info->si_code;
  last_value = info->si_value.sival_int;
  ran_as = pthread_self();
}

static volatile sig_atomic_t recursive_calls;
// Raises its own signal from inside, twice in all: with SA_NODEFER the
// deliveries nest, without it they follow one another.
static void recursive(int sig) {
  depth++;
  if (depth > max_depth) max_depth = depth;
  if (++recursive_calls < 3) raise(sig);
  depth--;
}

static const char* name_of_address(void* handler) {
  if (handler == (void*)SIG_DFL) return "SIG_DFL";
  if (handler == (void*)SIG_IGN) return "SIG_IGN";
  if (handler == (void*)plain) return "plain";
  if (handler == (void*)with_info) return "with_info";
  if (handler == (void*)recursive) return "recursive";
  if (handler == (void*)SIG_HOLD) return "SIG_HOLD";
  if (handler == (void*)SIG_ERR) return "SIG_ERR";
  return "other";
}
static const char* name_of(void (*handler)(int)) { return name_of_address((void*)handler); }

static void show(const char* what, int sig) {
  struct sigaction now;
  memset(&now, 0, sizeof now);
  sigaction(sig, NULL, &now);
  void* h = (now.sa_flags & SA_SIGINFO) ? (void*)now.sa_sigaction : (void*)now.sa_handler;
  printf("%s: handler=%s siginfo=%d restart=%d resethand=%d nodefer=%d onstack=%d mask has SIGUSR2=%d\n",
         what, name_of_address(h), !!(now.sa_flags & SA_SIGINFO), !!(now.sa_flags & SA_RESTART),
         !!(now.sa_flags & SA_RESETHAND), !!(now.sa_flags & SA_NODEFER),
         !!(now.sa_flags & SA_ONSTACK), sigismember(&now.sa_mask, SIGUSR2));
}

static void* raises(void* arg) {
  (void)arg;
  count = 0;
  raise(SIGUSR1);
  printf("raise in a thread: handled=%d, as that thread=%d\n", (int)count,
         pthread_equal(ran_as, pthread_self()));
  count = 0;
  pthread_kill(pthread_self(), SIGUSR1);
  printf("pthread_kill(self) in a thread: handled=%d, as that thread=%d\n", (int)count,
         pthread_equal(ran_as, pthread_self()));
  union sigval v = {.sival_int = 77};
  count = 0;
  int rc = pthread_sigqueue(pthread_self(), SIGRTMIN, v);
  printf("pthread_sigqueue(self): rc=%d handled=%d code_is_queue=%d value=%d\n", rc, (int)count,
         last_code == SI_QUEUE, last_value);
  return NULL;
}

static void* waits_in_sleep(void* arg) {
  (void)arg;
  struct timespec ts = {2, 0};
  errno = 0;
  int rc = nanosleep(&ts, NULL);
  printf("pthread_sigqueue to a sleeping thread: its sleep rc=%d errno=%d, value=%d, as it=%d\n",
         rc, errno, last_value, pthread_equal(ran_as, pthread_self()));
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa, old;

  // sigaction: install, query, the previous action.
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = plain;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  sigaction(SIGUSR1, &sa, &old);
  printf("previous: %s\n", name_of(old.sa_handler));
  show("sigaction(plain, RESTART|ONSTACK, mask USR2)", SIGUSR1);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = with_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, &old);
  printf("previous: %s restart=%d\n", name_of(old.sa_handler), !!(old.sa_flags & SA_RESTART));
  show("sigaction(with_info, SIGINFO)", SIGUSR1);
  count = 0;
  raise(SIGUSR1);
  printf("raise: handled=%d signo=%d code_is_tkill=%d\n", (int)count, last_signo, last_code == SI_TKILL);
  union sigval v = {.sival_int = 1234};
  sigqueue(getpid(), SIGUSR1, v);
  printf("sigqueue: value=%d code_is_queue=%d\n", last_value, last_code == SI_QUEUE);
  sigaction(SIGUSR1, NULL, &old);
  sigaction(SIGUSR2, &old, NULL);  // reinstalling a queried action
  show("SIGUSR2 given SIGUSR1's queried action", SIGUSR2);
  count = 0;
  raise(SIGUSR2);
  printf("raise(SIGUSR2): handled=%d signo=%d\n", (int)count, last_signo);

  // SA_RESETHAND: one delivery, then SIG_DFL (reported as such).
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = plain;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGUSR2, &sa, NULL);
  count = 0;
  raise(SIGUSR2);
  show("SA_RESETHAND after one delivery", SIGUSR2);

  // SA_NODEFER: the handler can interrupt itself.
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = recursive;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGUSR2, &sa, NULL);
  max_depth = 0;
  recursive_calls = 0;
  raise(SIGUSR2);
  printf("SA_NODEFER: depth reached %d\n", (int)max_depth);
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
  max_depth = 0;
  recursive_calls = 0;
  raise(SIGUSR2);
  printf("without SA_NODEFER: depth reached %d, calls %d\n", (int)max_depth, (int)recursive_calls);

  // signal(), bsd_signal(), sysv_signal(), siginterrupt(), sigset().
  void (*prev)(int) = signal(SIGUSR2, plain);
  printf("signal: previous %s\n", name_of(prev));
  show("signal(plain)", SIGUSR2);
  siginterrupt(SIGUSR2, 1);
  show("siginterrupt(1)", SIGUSR2);
  signal(SIGUSR2, plain);
  show("signal() after siginterrupt(1)", SIGUSR2);
  siginterrupt(SIGUSR2, 0);
  show("siginterrupt(0)", SIGUSR2);
  prev = bsd_signal(SIGUSR2, SIG_IGN);
  printf("bsd_signal: previous %s\n", name_of(prev));
  prev = sysv_signal(SIGUSR2, plain);
  printf("sysv_signal: previous %s\n", name_of(prev));
  show("sysv_signal(plain)", SIGUSR2);
  count = 0;
  raise(SIGUSR2);
  show("sysv_signal after one delivery", SIGUSR2);
  prev = sigset(SIGUSR2, plain);
  printf("sigset: previous %s\n", name_of(prev));
  prev = sigset(SIGUSR2, SIG_HOLD);
  printf("sigset(SIG_HOLD): previous %s\n", name_of(prev));
  count = 0;
  raise(SIGUSR2);
  printf("raise while held: handled=%d\n", (int)count);
  prev = sigset(SIGUSR2, plain);
  printf("sigset(plain) releasing: previous %s, pending one handled=%d\n", name_of(prev), (int)count);

  // Bad input.
  struct {
    const char* what;
    int sig;
    int query;
  } bad[] = {{"sigaction(0)", 0, 0},        {"sigaction(65)", 65, 0},
             {"sigaction(SIGKILL)", SIGKILL, 0}, {"sigaction(SIGSTOP, query)", SIGSTOP, 1},
             {"sigaction(32)", 32, 0},       {"sigaction(33, query)", 33, 1}};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    errno = 0;
    int rc = bad[i].query ? sigaction(bad[i].sig, NULL, &old) : sigaction(bad[i].sig, &sa, NULL);
    printf("%s: %d errno=%d\n", bad[i].what, rc, errno);
  }
  int bad_signals[] = {0, SIGKILL, SIGSTOP, 65};
  for (unsigned i = 0; i < sizeof bad_signals / sizeof bad_signals[0]; ++i) {
    errno = 0;
    prev = signal(bad_signals[i], plain);
    printf("signal(%d): %s errno=%d\n", bad_signals[i], name_of(prev), errno);
  }
  errno = 0;
  prev = signal(SIGUSR2, SIG_ERR);
  printf("signal(SIG_ERR): %s errno=%d\n", name_of(prev), errno);
  errno = 0;
  prev = sysv_signal(SIGKILL, plain);
  printf("sysv_signal(SIGKILL): %s errno=%d\n", name_of(prev), errno);
  errno = 0;
  prev = sigset(SIGKILL, plain);
  printf("sigset(SIGKILL): %s errno=%d\n", name_of(prev), errno);
  errno = 0;
  int rc = siginterrupt(0, 1);
  printf("siginterrupt(0): %d errno=%d\n", rc, errno);
  rc = raise(0);
  errno = 0;
  int rc99 = raise(99);
  printf("raise(0): %d; raise(99): %d errno=%d\n", rc, rc99, errno);
  int k99 = pthread_kill(pthread_self(), 99);
  int k32 = pthread_kill(pthread_self(), 32);
  int k0 = pthread_kill(pthread_self(), 0);
  printf("pthread_kill(self, 99): %d; (self, 32): %d; (self, 0): %d\n", k99, k32, k0);

  // raise, pthread_kill and pthread_sigqueue from threads run the handler
  // on the calling thread before returning.
  signal(SIGUSR1, plain);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = with_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGRTMIN, &sa, NULL);
  for (int i = 0; i < 3; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, raises, NULL);
    pthread_join(t, NULL);
  }
  // pthread_sigqueue to a sleeping thread: EINTR, the value, on it.
  pthread_t sleeper;
  pthread_create(&sleeper, NULL, waits_in_sleep, NULL);
  usleep(100000);
  v.sival_int = 4242;
  pthread_sigqueue(sleeper, SIGRTMIN, v);
  pthread_join(sleeper, NULL);
  return 0;
}
