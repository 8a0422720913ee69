// The trace writer: drains every thread's ring into the trace file.
//
// How it works
//   start() opens the file (moved to a high descriptor, close-on-exec, so
//   that the program's own descriptor numbering is undisturbed), writes the
//   header and starts a writer thread, a real OS thread of the runtime. The
//   writer wakes every kPeriod, pops every ring (the only consumer: drains
//   happen under drain_lock, also taken by flushes from other threads),
//   turns call pointers into string ids (defining each string once, in a
//   kString record before its first use), appends the stalls queued by
//   stall(), the dropped counts and, once a second, the per-call counters,
//   and writes it all with raw system calls.
//
//   stop() (atexit) and flush_before_exec() drain on the calling thread.
//   In a forked child (pthread_atfork), recording stops and the parent's
//   descriptor is closed: the child never writes into the parent's file.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "greenhub/call_counters.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/spin_lock.hpp"
#include "greenhub/trace.hpp"
#include "raw_io.hpp"
#include "thread_rings.hpp"

namespace greenhub::trace {
namespace {

constexpr long kPeriodNs = 10 * 1000 * 1000;         // drain every 10 ms
constexpr uint64_t kCounterPeriodNs = 1000000000ull;  // counters every second
constexpr size_t kPopBatch = 1024;

struct Writer {
  int fd = -1;
  SpinLock drain_lock;  // the rings' single consumer; the strings; the output
  std::unordered_map<uintptr_t, uint32_t> ids_by_pointer;
  std::unordered_map<std::string, uint32_t> ids_by_text;
  uint32_t next_string_id = 1;
  std::vector<Record> out;
  uint64_t last_counters_ns = 0;

  SpinLock stall_lock;  // stall() from any thread
  std::vector<Record> stalls;
};

Writer* g_writer = nullptr;  // set once by start(), never freed
pid_t g_owner = 0;           // the process whose file it is

// A child made without the atfork handlers (_Fork, vfork) shares or copied
// the parent's rings and descriptor: only the owner drains into the file.
bool is_owner() { return g_owner == getpid(); }
std::atomic<bool> g_started{false};

uint32_t define_string(Writer& w, std::string_view text) {
  std::string key(text.substr(0, kTextSize));
  auto it = w.ids_by_text.find(key);
  if (it != w.ids_by_text.end()) return it->second;
  const uint32_t id = w.next_string_id++;
  w.ids_by_text.emplace(key, id);
  Record r{};
  r.kind = Kind::kString;
  r.fd = static_cast<int32_t>(id);
  std::memcpy(reinterpret_cast<char*>(&r) + kTextOffset, key.data(), key.size());
  w.out.push_back(r);
  return id;
}

uint32_t string_for_pointer(Writer& w, uint64_t pointer) {
  if (pointer == 0) return 0;
  auto it = w.ids_by_pointer.find(pointer);
  if (it != w.ids_by_pointer.end()) return it->second;
  const char* text = reinterpret_cast<const char*>(pointer);
  const uint32_t id = define_string(w, std::string_view(text, strnlen(text, kTextSize)));
  w.ids_by_pointer.emplace(pointer, id);
  return id;
}

void write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    long rc = raw::write(fd, p, n);
    if (rc == -EINTR) continue;
    if (rc <= 0) return;  // disk full, closed: tracing is best effort
    p += rc;
    n -= static_cast<size_t>(rc);
  }
}

void append_counters(Writer& w, uint64_t now) {
  for (const CallCount& c : call_counts()) {
    const uint32_t id = define_string(w, c.call);
    Record r{};
    r.kind = Kind::kCounter;
    r.fd = -1;
    r.t = now;
    r.a = c.count;
    r.b = id;
    r.c = static_cast<int32_t>(c.route);
    w.out.push_back(r);
  }
  w.last_counters_ns = now;
}

// Pops every ring and writes. Caller holds drain_lock.
void drain_locked(Writer& w, bool with_counters) {
  static Record batch[kPopBatch];
  for (ThreadRing* tr = first_ring(); tr != nullptr; tr = tr->next) {
    for (;;) {
      const size_t n = tr->ring.pop(batch, kPopBatch);
      for (size_t i = 0; i < n; ++i) {
        Record r = batch[i];
        if (r.kind == Kind::kWait) r.b = string_for_pointer(w, r.b);
        w.out.push_back(r);
      }
      if (n < kPopBatch) break;
    }
    const uint64_t dropped = tr->ring.dropped();
    if (dropped != tr->reported_dropped) {
      Record r{};
      r.kind = Kind::kDropped;
      r.fd = static_cast<int32_t>(tr->id);
      r.t = now_ns();
      r.a = dropped - tr->reported_dropped;
      tr->reported_dropped = dropped;
      w.out.push_back(r);
    }
  }
  std::vector<Record> stalls;
  {
    std::lock_guard<SpinLock> lock(w.stall_lock);
    stalls.swap(w.stalls);
  }
  // Stall records carry their strings inline until here (see stall()).
  for (size_t i = 0; i < stalls.size();) {
    Record head = stalls[i];
    const size_t texts = head.d;
    w.out.push_back(head);
    for (size_t k = 1; k <= texts && i + k < stalls.size(); ++k) w.out.push_back(stalls[i + k]);
    i += 1 + texts;
  }
  const uint64_t now = now_ns();
  if (with_counters || now - w.last_counters_ns >= kCounterPeriodNs) append_counters(w, now);
  if (!w.out.empty() && w.fd >= 0) write_all(w.fd, w.out.data(), w.out.size() * sizeof(Record));
  w.out.clear();
}

void drain(bool with_counters) {
  Writer* w = g_writer;
  if (w == nullptr) return;
  std::lock_guard<SpinLock> lock(w->drain_lock);
  drain_locked(*w, with_counters);
}

void* writer_main(void*) {
  Writer* w = g_writer;
  for (;;) {
    timespec ts{0, kPeriodNs};
    raw::nanosleep(&ts);
    std::lock_guard<SpinLock> lock(w->drain_lock);
    if (w->fd < 0) return nullptr;  // stopped
    drain_locked(*w, false);
  }
}

int open_high(const char* path) {
  long fd = raw::openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return static_cast<int>(fd);
  rlimit rl{};
  long floor = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) floor = static_cast<long>(rl.rlim_cur);
  floor = floor > 64 ? floor - 64 : floor / 2;  // below the runtime's own high descriptors
  long high = raw::fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, floor);
  if (high >= 0) {
    raw::close(static_cast<int>(fd));
    fd = high;
  }
  return static_cast<int>(fd);
}

std::string expand_path(const char* path) {
  std::string out;
  for (const char* p = path; *p != '\0'; ++p) {
    if (p[0] == '%' && p[1] == 'p') {
      out += std::to_string(getpid());
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

// The pid in the header of an existing trace file, or 0.
uint32_t owner_of(const std::string& path) {
  long fd = raw::openat(AT_FDCWD, path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  FileHeader h{};
  const long n = raw::read(static_cast<int>(fd), &h, sizeof(h));
  raw::close(static_cast<int>(fd));
  if (n != static_cast<long>(sizeof(h)) || std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return 0;
  return h.pid;
}

// Where this process writes. The file a live process is writing belongs to
// it: a traced program's children (which inherit GREENHUB_TRACE) write
// FILE.<pid>, and a program the process became by exec (same pid) writes
// FILE.<n>, so that neither truncates the trace of the process before it.
std::string choose_path(const std::string& file) {
  const uint32_t me = static_cast<uint32_t>(getpid());
  const uint32_t owner = owner_of(file);
  if (owner == 0) return file;
  if (owner != me) {
    const long alive = raw::kill(static_cast<int>(owner), 0);
    if (alive == 0 || alive == -EPERM) return file + "." + std::to_string(me);
    return file;  // a finished run's trace: replaced
  }
  for (int n = 1;; ++n) {
    std::string next = file + "." + std::to_string(n);
    if (owner_of(next) != me) return next;
  }
}

void at_exit() { stop(); }

void in_forked_child() { after_fork_in_child(); }

}  // namespace

bool start(const char* path) {
  if (path == nullptr || *path == '\0') return false;
  bool expected = false;
  if (!g_started.compare_exchange_strong(expected, true)) return true;
  const std::string file = choose_path(expand_path(path));
  const int fd = open_high(file.c_str());
  if (fd < 0) {
    std::fprintf(stderr, "greenhub: GREENHUB_TRACE: cannot open %s: %s\n", file.c_str(),
                 std::strerror(-fd));
    return false;
  }
  auto* w = new Writer;
  w->fd = fd;
  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(h.magic));
  h.version = kFormatVersion;
  h.record_size = sizeof(Record);
  h.pid = static_cast<uint32_t>(getpid());
  h.start_monotonic_ns = now_ns();
  timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  h.start_realtime_ns = static_cast<uint64_t>(rt.tv_sec) * 1000000000ull +
                        static_cast<uint64_t>(rt.tv_nsec);
  write_all(fd, &h, sizeof(h));
  w->last_counters_ns = h.start_monotonic_ns;
  g_owner = getpid();
  g_writer = w;
  detail::g_flags.fetch_or(3);
  std::atexit(at_exit);
  pthread_atfork(nullptr, nullptr, in_forked_child);
  // The writer takes no signal: process-directed signals go to the
  // program's threads, as without tracing.
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all;
  sigfillset(&all);
  pthread_attr_setsigmask_np(&attr, &all);
  pthread_t thread;
  {
    RuntimeThreadScope scope;
    pthread_create(&thread, &attr, writer_main, nullptr);
  }
  pthread_attr_destroy(&attr);
  return true;
}

void start_from_env() {
  const char* path = std::getenv("GREENHUB_TRACE");
  if (path != nullptr && *path != '\0') start(path);
}

void stop() {
  Writer* w = g_writer;
  if (w == nullptr || !is_owner()) return;
  std::lock_guard<SpinLock> lock(w->drain_lock);
  if (w->fd < 0) return;
  drain_locked(*w, true);
  detail::g_flags.fetch_and(static_cast<unsigned char>(~1u));
  raw::close(w->fd);
  w->fd = -1;
}

void flush_before_exec() {
  if (on() && is_owner()) drain(true);
}

void after_fork_in_child() {
  Writer* w = g_writer;
  detail::g_flags.fetch_and(static_cast<unsigned char>(~1u));
  if (w == nullptr) return;
  // The parent may have held the locks at fork: the child owns them now.
  new (&w->drain_lock) SpinLock();
  new (&w->stall_lock) SpinLock();
  if (w->fd >= 0) raw::close(w->fd);
  w->fd = -1;
}

void stall(const StallReport& report) noexcept {
  Writer* w = g_writer;
  if (!on() || w == nullptr) return;
  try {
    std::vector<Record> rs;
    Record head{};
    head.kind = Kind::kStall;
    head.hub = static_cast<uint16_t>(report.hub_id);
    head.fd = -1;
    head.greenlet = report.greenlet_id;
    const uint64_t now = now_ns();
    head.t = report.start_ns != 0 ? report.start_ns
                                  : (now > report.duration_ns ? now - report.duration_ns : 0);
    head.a = report.duration_ns;
    // call and name need string ids, which only the drainer assigns: the
    // call goes first as text records, then the name, then the backtrace,
    // each NUL-terminated; the reader splits them.
    std::string text;
    text.append(report.call);
    text.push_back('\0');
    text.append(report.greenlet_name);
    text.push_back('\0');
    text.append(report.backtrace);
    const size_t chunks = (text.size() + kTextSize - 1) / kTextSize;
    head.d = static_cast<uint32_t>(chunks);
    rs.push_back(head);
    for (size_t i = 0; i < chunks; ++i) {
      Record t{};
      t.kind = Kind::kText;
      const size_t n = std::min(kTextSize, text.size() - i * kTextSize);
      std::memcpy(reinterpret_cast<char*>(&t) + kTextOffset, text.data() + i * kTextSize, n);
      rs.push_back(t);
    }
    std::lock_guard<SpinLock> lock(w->stall_lock);
    w->stalls.insert(w->stalls.end(), rs.begin(), rs.end());
  } catch (...) {
    // Out of memory: the stall is still reported on stderr by the monitor.
  }
}

namespace {
// libgreenhub and the preload start tracing when they load.
__attribute__((constructor)) void trace_from_env() { start_from_env(); }
}  // namespace

}  // namespace greenhub::trace
