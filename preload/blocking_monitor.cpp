// The blocking monitor (see blocking_monitor.hpp for the mechanism).
#include "blocking_monitor.hpp"

#include <dlfcn.h>
#include <ev.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fd_table.hpp"
#include "greenhub/trace.hpp"
#include "green_thread.hpp"
#include "interposed_call.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {

thread_local const char* tls_interposed_call = nullptr;

namespace {

constexpr int kMaxFrames = 64;
// backtrace() from the handler: on_monitor_signal, then the kernel's
// signal-return trampoline, then the interrupted code.
constexpr int kHandlerFrames = 2;
constexpr uint64_t kMillisecond = 1000000;

// One hub as the monitor sees it. The first fields are written by the
// hub's own thread; the rest belong to the monitor thread.
struct HubWatch {
  Hub* hub = nullptr;
  std::atomic<uint32_t> armed{0};    // the hub thread installed its callbacks
  std::atomic<uint32_t> in_poll{0};  // the hub waits in epoll_wait
  std::atomic<pid_t> tid{0};
  uint64_t last_beat = 0;
  uint64_t beat_since_ns = 0;
  bool suspected = false;           // the beat has not moved for a sampling period
  uint64_t run_delay_at_suspicion = 0;
  bool reported = false;
};

HubWatch* watches = nullptr;
size_t watch_count = 0;
thread_local HubWatch* tls_watch = nullptr;

uint64_t threshold_ns = 0;
int log_fd = STDERR_FILENO;
std::atomic<bool> stopping{false};
std::atomic<uint64_t> stall_count{0};

// --- capture, shared between the monitor and the signal handler ----------

enum CaptureState : uint32_t { kIdle = 0, kRequested = 1, kCapturing = 2, kDone = 3 };

struct Capture {
  void* frames[kMaxFrames];
  int frame_count = 0;
  uint64_t greenlet_id = 0;
  char greenlet_name[16] = {0};
  bool green_thread = false;
  bool main_greenlet = false;
  const char* call = nullptr;
};

Capture capture;
std::atomic<uint32_t> capture_word{kIdle};  // (request << 2) | CaptureState
uint32_t capture_request = 0;

uint32_t word_of(uint32_t request, CaptureState state) { return (request << 2) | state; }

void fill_capture() {
  capture.call = tls_interposed_call;
  capture.greenlet_id = 0;
  capture.greenlet_name[0] = '\0';
  capture.green_thread = false;
  capture.main_greenlet = false;
  if (Hub* hub = Hub::current_if_exists()) {
    GreenletBase* g = hub->current_greenlet();
    capture.greenlet_id = g->id();
    capture.main_greenlet = g->is_main();
    if (g->tag() == kGreenThreadTag) {
      capture.green_thread = true;
      std::memcpy(capture.greenlet_name, static_cast<GreenThread*>(g)->thread_name,
                  sizeof capture.greenlet_name - 1);
    } else if (!g->is_main()) {
      const std::string& name = g->name();
      size_t n = name.size() < sizeof capture.greenlet_name - 1 ? name.size()
                                                                 : sizeof capture.greenlet_name - 1;
      std::memcpy(capture.greenlet_name, name.data(), n);
      capture.greenlet_name[n] = '\0';
    }
    capture.greenlet_name[sizeof capture.greenlet_name - 1] = '\0';
  }
  capture.frame_count = backtrace(capture.frames, kMaxFrames);
}

// Runs on the stalled hub's OS thread. Async-signal-safe: no allocation, no
// lock; backtrace() was warmed up by the monitor.
void on_monitor_signal(int, siginfo_t* info, void*) {
  if (info->si_code != SI_QUEUE) return;
  const int saved_errno = errno;
  const uint32_t request = static_cast<uint32_t>(info->si_value.sival_int);
  uint32_t expected = word_of(request, kRequested);
  if (capture_word.compare_exchange_strong(expected, word_of(request, kCapturing),
                                           std::memory_order_acq_rel)) {
    fill_capture();
    capture_word.store(word_of(request, kDone), std::memory_order_release);
    futex_wake(reinterpret_cast<const uint32_t*>(&capture_word), 1);
  }
  errno = saved_errno;
}

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

timespec timespec_at(uint64_t ns) {
  return timespec{static_cast<time_t>(ns / 1000000000u), static_cast<long>(ns % 1000000000u)};
}

// Whether signalling `tid` leaves what it is doing unchanged. A handler
// with SA_RESTART is transparent to a thread running user code or blocked
// in a system call the kernel restarts (read, write, accept, wait4...), but
// not to one in a call with a timeout (nanosleep, poll, select, epoll_wait,
// a socket with SO_RCVTIMEO/SO_SNDTIMEO, a timed futex): those would return
// EINTR, which the program never asked for. /proc/self/task/TID/syscall
// says which: "running", or the call's number and arguments. Unknown
// means no.
bool safe_to_interrupt(pid_t tid, long* syscall_number) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
  int fd = GREENHUB_REAL(open)(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[256];
  ssize_t n = GREENHUB_REAL(read)(fd, text, sizeof text - 1);
  GREENHUB_REAL(close)(fd);
  if (n <= 0) return false;
  text[n] = '\0';
  *syscall_number = -1;
  if (std::strncmp(text, "running", 7) == 0) return true;
  char* end = nullptr;
  long number = std::strtol(text, &end, 10);
  unsigned long long first_argument = std::strtoull(end, nullptr, 16);
  *syscall_number = number;
  switch (number) {
    case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
    case SYS_pread64: case SYS_pwrite64: case SYS_recvfrom: case SYS_sendto:
    case SYS_recvmsg: case SYS_sendmsg: case SYS_accept: case SYS_accept4: {
      // Restarted, unless the descriptor is a socket with a timeout.
      const int target = static_cast<int>(first_argument);
      for (int option : {SO_RCVTIMEO, SO_SNDTIMEO}) {
        timeval tv{};
        socklen_t length = sizeof tv;
        if (GREENHUB_REAL(getsockopt)(target, SOL_SOCKET, option, &tv, &length) == 0 &&
            (tv.tv_sec != 0 || tv.tv_usec != 0)) {
          return false;
        }
      }
      return true;
    }
    case SYS_wait4: case SYS_waitid: case SYS_open: case SYS_openat: case SYS_flock:
      return true;
    default:
      return false;
  }
}

// Asks `tid` for its backtrace; true once the capture buffer holds it.
bool capture_stack(pid_t tid) {
  const uint32_t request = (++capture_request) & 0x3fffffffu;
  capture_word.store(word_of(request, kRequested), std::memory_order_seq_cst);
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  info.si_signo = monitor_signal();
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = static_cast<int>(request);
  if (raw_syscall6(SYS_rt_tgsigqueueinfo, getpid(), tid, monitor_signal(),
                   reinterpret_cast<long>(&info), 0, 0) != 0) {
    capture_word.store(kIdle, std::memory_order_relaxed);
    return false;
  }
  // 100 ms for the thread to take the signal; once it has started the
  // capture, up to 2 s more to finish it.
  uint64_t deadline = monotonic_ns() + 100 * kMillisecond;
  for (;;) {
    uint32_t w = capture_word.load(std::memory_order_acquire);
    if (w == word_of(request, kDone)) return true;
    timespec at = timespec_at(deadline);
    long rc = futex_wait_abs(reinterpret_cast<const uint32_t*>(&capture_word), w, &at,
                             CLOCK_MONOTONIC);
    if (rc == -ETIMEDOUT) {
      uint32_t expected = word_of(request, kRequested);
      if (capture_word.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
        return false;  // never delivered (blocked): a late delivery is ignored
      }
      if (expected == word_of(request, kDone)) return true;
      if (monotonic_ns() > deadline + 2000 * kMillisecond) return false;
      deadline += 2000 * kMillisecond;
    }
  }
}

// --- formatting (the monitor thread; no allocation) ----------------------

struct TextBuffer {
  char data[16384];
  size_t length = 0;

  void append(const char* format, ...) __attribute__((format(printf, 2, 3))) {
    if (length >= sizeof data - 1) return;
    va_list args;
    va_start(args, format);
    int n = std::vsnprintf(data + length, sizeof data - length, format, args);
    va_end(args);
    if (n > 0) length += static_cast<size_t>(n) < sizeof data - length ? static_cast<size_t>(n)
                                                                         : sizeof data - length - 1;
  }
};

TextBuffer report_text;

void write_log(const char* text, size_t length) {
  while (length > 0) {
    ssize_t n = GREENHUB_REAL(write)(log_fd, text, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    length -= static_cast<size_t>(n);
  }
}

// The process's name (what an unnamed thread's pthread_getname_np gives).
void read_process_name(char* out, size_t size) {
  out[0] = '\0';
  int fd = GREENHUB_REAL(open)("/proc/self/comm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = GREENHUB_REAL(read)(fd, out, size - 1);
  GREENHUB_REAL(close)(fd);
  if (n <= 0) n = 0;
  out[n] = '\0';
  if (n > 0 && out[n - 1] == '\n') out[n - 1] = '\0';
}

const char* base_name(const char* path) {
  if (path == nullptr) return "?";
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

void append_frame(TextBuffer& text, int index, void* pc, bool return_address) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(pc);
  // A return address points after the call: look up the call itself.
  const uintptr_t lookup = return_address ? address - 1 : address;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(lookup), &info) == 0) {
    text.append("    #%-2d 0x%016lx in ??\n", index, static_cast<unsigned long>(address));
    return;
  }
  const uintptr_t base = reinterpret_cast<uintptr_t>(info.dli_fbase);
  if (info.dli_sname != nullptr) {
    text.append("    #%-2d 0x%016lx in %s+0x%lx (%s)\n", index, static_cast<unsigned long>(address),
                info.dli_sname,
                static_cast<unsigned long>(address - reinterpret_cast<uintptr_t>(info.dli_saddr)),
                base_name(info.dli_fname));
  } else {
    text.append("    #%-2d 0x%016lx in ?? (%s+0x%lx)\n", index, static_cast<unsigned long>(address),
                base_name(info.dli_fname), static_cast<unsigned long>(address - base));
  }
}

void report(size_t index, HubWatch& w, uint64_t since_ns, uint64_t blocked_ns) {
  const pid_t tid = w.tid.load(std::memory_order_relaxed);
  long syscall_number = -1;
  const bool interruptible = safe_to_interrupt(tid, &syscall_number);
  const bool captured = interruptible && capture_stack(tid);
  char name[32];
  const char* kind = "greenlet";
  if (captured) {
    kind = capture.green_thread ? "green thread" : capture.main_greenlet ? "main thread" : "greenlet";
    if (capture.greenlet_name[0] != '\0') {
      std::snprintf(name, sizeof name, "%s", capture.greenlet_name);
    } else {
      read_process_name(name, sizeof name);  // an unnamed thread: the process's name
    }
  } else {
    std::snprintf(name, sizeof name, "?");
  }
  const unsigned long long ms = blocked_ns / kMillisecond;
  TextBuffer& text = report_text;
  text.length = 0;
  size_t backtrace_start = 0;
  text.append("greenhub: blocking monitor: hub %zu (OS thread %d) has not switched for %llu ms "
              "(GREENHUB_MAX_BLOCKING_MS=%llu)\n",
              index, static_cast<int>(tid), ms,
              static_cast<unsigned long long>(threshold_ns / kMillisecond));
  const char* call = captured ? capture.call : nullptr;
  if (captured) {
    text.append("  %s %llu \"%s\" is ", kind, static_cast<unsigned long long>(capture.greenlet_id),
                name);
    if (call != nullptr) text.append("in %s()\n", call);
    else text.append("outside any interposed call\n");
    text.append("  backtrace of OS thread %d:\n", static_cast<int>(tid));
    backtrace_start = text.length;
    for (int i = kHandlerFrames; i < capture.frame_count; ++i) {
      append_frame(text, i - kHandlerFrames, capture.frames[i], i > kHandlerFrames);
    }
  } else if (!interruptible) {
    text.append("  (no backtrace: the thread is in system call %ld, which a signal would cut "
                "short with EINTR)\n",
                syscall_number);
  } else {
    text.append("  (no backtrace: the thread did not take signal %d; it may block it)\n",
                monitor_signal());
  }
  StallReport stall;
  stall.hub_index = index;
  stall.hub_id = w.hub->id();
  stall.os_thread = tid;
  stall.greenlet_id = captured ? capture.greenlet_id : 0;
  stall.greenlet_name = name;
  stall.call = call;
  stall.since_ns = since_ns;
  stall.blocked_ns = blocked_ns;
  stall.frames = captured ? capture.frames + kHandlerFrames : nullptr;
  stall.frame_count = captured && capture.frame_count > kHandlerFrames
                          ? capture.frame_count - kHandlerFrames : 0;
  stall.text = text.data;
  stall.text_length = text.length;
  if (backtrace_start != 0) {
    stall.backtrace = text.data + backtrace_start;
    stall.backtrace_length = text.length - backtrace_start;
  }
  report_stall(stall);
}

void report_end(size_t index, uint64_t blocked_ns) {
  char line[128];
  int n = std::snprintf(line, sizeof line,
                        "greenhub: blocking monitor: hub %zu switched again after %llu ms\n", index,
                        static_cast<unsigned long long>(blocked_ns / kMillisecond));
  if (n > 0) write_log(line, static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1);
}

// Greenlets of the program on this hub: every started, unfinished one but
// the hub's own loop greenlet, plus main() on hub 0 (the main greenlets of
// the other hubs only run their loops).
uint64_t program_greenlets(size_t index, const Hub& hub) {
  const HubCounters& c = hub.counters();
  const uint64_t spawned = c.spawned.load(std::memory_order_relaxed);
  const uint64_t finished = c.finished.load(std::memory_order_relaxed);
  uint64_t live = spawned > finished ? spawned - finished - 1 : 0;
  return index == 0 ? live + 1 : live;
}

// How long the thread has waited for a CPU (runnable, not running) since it
// started: the second field of its schedstat. A hub that does not switch
// because the machine is busy is not stalled by its greenlet.
uint64_t run_delay_ns(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(tid));
  int fd = GREENHUB_REAL(open)(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[96];
  ssize_t n = GREENHUB_REAL(read)(fd, text, sizeof text - 1);
  GREENHUB_REAL(close)(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  unsigned long long on_cpu = 0, waiting = 0;
  if (std::sscanf(text, "%llu %llu", &on_cpu, &waiting) != 2) return 0;
  return waiting;
}

void scan(uint64_t now) {
  for (size_t i = 0; i < watch_count; ++i) {
    HubWatch& w = watches[i];
    if (w.armed.load(std::memory_order_acquire) == 0) continue;
    const HubCounters& c = w.hub->counters();
    const uint64_t beat = c.switches.load(std::memory_order_relaxed) +
                          c.loop_iterations.load(std::memory_order_relaxed);
    // beat_since_ns == 0: the first scan of this hub, whose counters may
    // not have moved since it started: its beat starts now.
    if (w.in_poll.load(std::memory_order_relaxed) != 0 || beat != w.last_beat ||
        w.beat_since_ns == 0) {
      if (w.reported) report_end(i, now - w.beat_since_ns);
      w.last_beat = beat;
      w.beat_since_ns = now;
      w.reported = false;
      w.suspected = false;
      continue;
    }
    if (w.reported) continue;
    const pid_t tid = w.tid.load(std::memory_order_relaxed);
    if (!w.suspected) {
      w.suspected = true;
      w.run_delay_at_suspicion = run_delay_ns(tid);
    }
    if (now - w.beat_since_ns < threshold_ns) continue;
    // Time spent waiting for a CPU is the machine's, not the greenlet's.
    const uint64_t delay = run_delay_ns(tid);
    const uint64_t waited = delay > w.run_delay_at_suspicion ? delay - w.run_delay_at_suspicion : 0;
    const uint64_t blocked = now - w.beat_since_ns > waited ? now - w.beat_since_ns - waited : 0;
    if (blocked < threshold_ns) continue;
    if (program_greenlets(i, *w.hub) < 2) continue;  // nobody else is kept waiting
    w.reported = true;
    report(i, w, w.beat_since_ns, now - w.beat_since_ns);
  }
}

void* monitor_main(void*) {
  void* warm_up[4];
  backtrace(warm_up, 4);  // loads libgcc's unwinder now, not in the handler
  uint64_t period = threshold_ns / 5;
  if (period < 5 * kMillisecond) period = 5 * kMillisecond;
  if (period > 50 * kMillisecond) period = 50 * kMillisecond;
  const timespec pause = timespec_at(period);
  while (!stopping.load(std::memory_order_relaxed)) {
    GREENHUB_REAL(clock_nanosleep)(CLOCK_MONOTONIC, 0, &pause, nullptr);
    if (stopping.load(std::memory_order_relaxed)) break;
    scan(monotonic_ns());
  }
  return nullptr;
}

void on_poll_release(struct ev_loop*) noexcept {
  if (HubWatch* w = tls_watch) w->in_poll.store(1, std::memory_order_relaxed);
}

void on_poll_acquire(struct ev_loop*) noexcept {
  if (HubWatch* w = tls_watch) w->in_poll.store(0, std::memory_order_relaxed);
}

// On the hub's own OS thread, outside its loop's poll.
void arm_on_hub_thread(HubWatch* w, bool runtime_hub_thread) {
  tls_watch = w;
  ev_set_loop_release_cb(w->hub->loop(), &on_poll_release, &on_poll_acquire);
  if (runtime_hub_thread) {
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, monitor_signal());
    GREENHUB_REAL(pthread_sigmask)(SIG_UNBLOCK, &only, nullptr);
  }
  w->tid.store(static_cast<pid_t>(raw_gettid()), std::memory_order_relaxed);
  w->armed.store(1, std::memory_order_release);
}

[[noreturn]] void cannot_start(const char* what, int error) {
  std::fprintf(stderr, "greenhub: cannot start the blocking monitor: %s: %s\n", what,
               std::strerror(error));
  _exit(2);
}

void open_log(const char* path) {
  int fd = GREENHUB_REAL(open)(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "greenhub: GREENHUB_MONITOR_LOG=%s cannot be opened: %s\n", path,
                 std::strerror(errno));
    _exit(2);
  }
  log_fd = FdTable::make_private(fd);
}

// After the runtime's start-up (constructor 101) and the signal mask's (102).
__attribute__((constructor(110))) void start_at_load() {
  if (initialized()) start_blocking_monitor();
}

__attribute__((destructor)) void stop_blocking_monitor() {
  stopping.store(true, std::memory_order_relaxed);
}

}  // namespace

int monitor_signal() { return SIGRTMAX - 1; }

void report_stall(const StallReport& stall) {
  stall_count.fetch_add(1, std::memory_order_relaxed);
  write_log(stall.text, stall.text_length);
  if (trace::on()) {
    trace::StallReport traced;
    traced.hub_id = stall.hub_id;
    traced.greenlet_id = stall.greenlet_id;
    traced.greenlet_name = stall.greenlet_name;
    traced.call = stall.call != nullptr ? stall.call : "outside any interposed call";
    traced.start_ns = stall.since_ns;
    traced.duration_ns = stall.blocked_ns;
    traced.backtrace = std::string_view(stall.backtrace, stall.backtrace_length);
    trace::stall(traced);
  }
}

uint64_t stalls_reported() { return stall_count.load(std::memory_order_relaxed); }

void start_blocking_monitor() {
  const Config& c = config();
  if (c.max_blocking_ms == 0 || watches != nullptr) return;
  threshold_ns = static_cast<uint64_t>(c.max_blocking_ms) * kMillisecond;
  if (c.monitor_log != nullptr) open_log(c.monitor_log);

  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = &on_monitor_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
  sigfillset(&action.sa_mask);
  if (GREENHUB_REAL(sigaction)(monitor_signal(), &action, nullptr) != 0) {
    cannot_start("sigaction", errno);
  }

  watch_count = hub_count();
  watches = new HubWatch[watch_count];
  for (size_t i = 0; i < watch_count; ++i) {
    HubWatch* w = &watches[i];
    w->hub = hub_at(i);
    if (i == 0) {
      arm_on_hub_thread(w, false);  // we are on the main thread, hub 0's
    } else {
      w->hub->post([w] { arm_on_hub_thread(w, true); });
    }
  }

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  sigset_t all;
  sigfillset(&all);
  pthread_attr_setsigmask_np(&attr, &all);  // takes no signal, ever
  pthread_t thread;
  int rc;
  {
    RuntimeThreadScope scope;
    rc = GREENHUB_REAL(pthread_create)(&thread, &attr, &monitor_main, nullptr);
  }
  pthread_attr_destroy(&attr);
  if (rc != 0) cannot_start("pthread_create", rc);
  GREENHUB_REAL(pthread_setname_np)(thread, "greenhub-mon");
}

}  // namespace greenhub::preload
