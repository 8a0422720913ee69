// The control socket: GREENHUB_CONTROL=PATH lets tools (greentop) ask a
// running process what its hubs and greenlets are doing.
//
// How it works
//   At start-up (after the preload's runtime), if GREENHUB_CONTROL names a
//   path, the preload binds a Unix stream socket there and starts one OS
//   thread of its own, "greenhub-ctl", that serves it. The thread is not
//   green and not the program's: it is created with every signal blocked,
//   green_hub() is nullptr on it (its calls go straight to libc, and it
//   calls libc's functions directly anyway), and its descriptors (the
//   listening socket and each client's) are private (fd_table.hpp): moved
//   high, close-on-exec, invisible to the program's close loops.
//
//   Protocol: a client sends one request per line and receives one JSON
//   document per line, on the same connection as long as it likes:
//     hubs       per hub: switches (total and per second), runnable and live
//                greenlets, loop lag (how long the hub took to run a task
//                posted to it), responsive (false: the hub is stalled)
//     greenlets  per greenlet: id, hub, name, state, what it waits on, on
//                which fd, since when (monotonic and wall clock) and for how
//                long
//     counters   per interposed call: how many calls went green, how many
//                passed through to libc (from the trace counters)
//     dump       every greenlet with its backtrace (greenlet_snapshot.hpp)
//     help       the list of requests
//   Anything else gets {"error": "..."}. Greenlet data is captured by each
//   hub itself (greenlet_snapshot.hpp); counters are read directly.
//   Switches per second are measured by the thread, which samples the hubs'
//   switch counters once a second while it waits for requests.
//
// The socket file
//   Mode 0600 whatever the umask: the socket's inode is fchmod'ed to 0600
//   before bind (Linux creates the file with that mode minus the umask) and
//   the file is chmod'ed to exactly 0600 after bind; it is never wider. A
//   stale socket at PATH (nobody accepts: connect is refused) is replaced;
//   anything else at PATH (a file, a directory, a live socket) is left
//   alone and the control socket is refused with a message on stderr, as is
//   a path too long for a Unix socket. The file is removed at exit (by the
//   process that created it, not by a forked child); a process that ends by
//   _exit or a signal leaves it stale, and the next one replaces it. "%p" in PATH stands
//   for the process id, so that the programs a process runs each get a
//   socket of their own; without it, a program started by the process that
//   serves PATH inherits the variable and quietly runs without a socket.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fd_table.hpp"
#include "greenhub/call_counters.hpp"
#include "greenlet_snapshot.hpp"
#include "json_writer.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {

namespace {

constexpr int64_t kCaptureTimeoutNs = 1000 * 1000 * 1000LL;
constexpr size_t kMaxClients = 16;
constexpr size_t kMaxRequestBytes = 256;
constexpr int kSampleIntervalMs = 1000;

struct Client {
  int fd = -1;
  std::string pending;  // bytes of a request line not yet complete
};

struct SwitchSample {
  uint64_t switches = 0;
  int64_t at_ns = 0;
  double per_second = 0;
};

struct ControlState {
  std::string path;
  int listen_fd = -1;
  pid_t owner = 0;
  std::vector<SwitchSample> samples;  // by hub index; the server thread's only
};

ControlState* control = nullptr;

void complain(const std::string& path, const std::string& why) {
  std::fprintf(stderr, "greenhub: GREENHUB_CONTROL=%s: %s; running without a control socket\n",
               path.c_str(), why.c_str());
}

void close_private(int fd) {
  FdTable::release_runtime(fd);
  GREENHUB_REAL(close)(fd);
}

// Whether something accepts connections on the socket at `path`; if so,
// *server is the pid that listens (0 if unknown).
bool socket_is_live(const sockaddr_un& addr, pid_t* server) {
  *server = 0;
  int fd = GREENHUB_REAL(socket)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell: do not remove it
  int rc = GREENHUB_REAL(connect)(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int err = errno;
  if (rc == 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (GREENHUB_REAL(getsockopt)(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) *server = cred.pid;
  }
  GREENHUB_REAL(close)(fd);
  return rc == 0 || (err != ECONNREFUSED && err != ENOENT);
}

// GREENHUB_CONTROL with each "%p" replaced by the process id.
std::string expand_path(const char* text) {
  std::string path;
  for (const char* c = text; *c != '\0'; ++c) {
    if (c[0] == '%' && c[1] == 'p') {
      path += std::to_string(getpid());
      ++c;
    } else {
      path += *c;
    }
  }
  return path;
}

int open_listener(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    complain(path, "path longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      complain(path, "exists and is not a socket");
      return -1;
    }
    pid_t server = 0;
    if (socket_is_live(addr, &server)) {
      // A program run by the serving process inherits GREENHUB_CONTROL:
      // that is no mistake to report (the parent keeps the socket).
      if (server != getppid()) complain(path, "another process is serving this socket");
      return -1;
    }
    unlink(path.c_str());  // stale: its process is gone
  }

  int fd = GREENHUB_REAL(socket)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    complain(path, std::string("socket: ") + std::strerror(errno));
    return -1;
  }
  fchmod(fd, 0600);
  if (GREENHUB_REAL(bind)(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    complain(path, std::string("bind: ") + std::strerror(errno));
    GREENHUB_REAL(close)(fd);
    return -1;
  }
  if (chmod(path.c_str(), 0600) != 0 || GREENHUB_REAL(listen)(fd, 8) != 0) {
    complain(path, std::string("chmod/listen: ") + std::strerror(errno));
    GREENHUB_REAL(close)(fd);
    unlink(path.c_str());
    return -1;
  }
  return FdTable::make_private(fd);
}

// --- answers ----------------------------------------------------------------

std::vector<HubRecord> capture_all(bool backtraces) {
  std::vector<Hub*> hubs;
  for (size_t i = 0; hub_at(i) != nullptr; ++i) hubs.push_back(hub_at(i));
  return capture_hubs(hubs, backtraces, kCaptureTimeoutNs);
}

void begin_answer(JsonWriter& w, const char* request) {
  w.begin_object();
  w.field("request", request);
  w.field("pid", static_cast<int64_t>(getpid()));
  w.field("time", static_cast<double>(monotonic_ns()) / 1e9);
}

void sample_switches() {
  int64_t now = monotonic_ns();
  for (size_t i = 0;; ++i) {
    Hub* hub = hub_at(i);
    if (hub == nullptr) break;
    if (control->samples.size() <= i) control->samples.resize(i + 1);
    SwitchSample& s = control->samples[i];
    uint64_t switches = hub->counters().switches.load(std::memory_order_relaxed);
    if (s.at_ns != 0 && now > s.at_ns) {
      s.per_second = static_cast<double>(switches - s.switches) * 1e9 /
                     static_cast<double>(now - s.at_ns);
    }
    s.switches = switches;
    s.at_ns = now;
  }
}

std::string answer_hubs() {
  std::vector<HubRecord> hubs = capture_all(false);
  JsonWriter w;
  begin_answer(w, "hubs");
  w.key("hubs").begin_array();
  for (const HubRecord& h : hubs) {
    double rate = h.index < control->samples.size() ? control->samples[h.index].per_second : 0;
    w.begin_object();
    w.field("hub", static_cast<uint64_t>(h.index));
    w.field("id", h.id);
    w.field("responsive", h.responsive);
    w.key("tid");
    if (h.responsive) w.value(static_cast<int64_t>(h.tid));
    else w.null();
    w.field("switches", h.switches);
    w.field("switches_per_s", rate);
    w.field("loop_iterations", h.loop_iterations);
    w.field("spawned", h.spawned);
    w.field("finished", h.finished);
    w.key("greenlets");
    if (h.responsive) w.value(static_cast<uint64_t>(h.greenlets.size()));
    else w.null();
    w.key("runnable");
    if (h.responsive) w.value(static_cast<uint64_t>(h.runnable));
    else w.null();
    w.key("loop_lag_ms");
    if (h.responsive) w.value(static_cast<double>(h.loop_lag_ns) / 1e6);
    else w.null();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

void write_greenlet(JsonWriter& w, const HubRecord& h, const GreenletRecord& g, int64_t now,
                    bool backtrace) {
  w.begin_object();
  w.field("id", g.id);
  w.field("hub", static_cast<uint64_t>(h.index));
  w.field("name", g.name);
  w.field("state", state_name(g.state));
  w.field("main", g.is_main);
  w.field("green_thread", g.green_thread);
  w.key("waiting_on");
  bool waits = g.state == GreenletBase::State::kParked;
  if (waits) w.value(g.waiting_on.empty() ? "park" : g.waiting_on.c_str());
  else w.null();
  w.key("fd");
  if (waits && g.fd >= 0) w.value(g.fd);
  else w.null();
  w.key("since");
  if (waits && g.parked_since_ns > 0) w.value(static_cast<double>(g.parked_since_ns) / 1e9);
  else w.null();
  double waited = static_cast<double>(now > g.parked_since_ns ? now - g.parked_since_ns : 0) / 1e9;
  w.key("waiting_s");
  if (waits && g.parked_since_ns > 0) w.value(waited);
  else w.null();
  w.key("since_unix");  // the same instant on the wall clock
  if (waits && g.parked_since_ns > 0) {
    timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    w.value(static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) / 1e9 - waited);
  } else {
    w.null();
  }
  w.field("stack_size", static_cast<uint64_t>(g.stack_size));
  if (backtrace) {
    w.key("backtrace").begin_array();
    for (uintptr_t pc : g.frames) {
      std::string function, object;
      std::string text = describe_address(pc, &function, &object);
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(pc));
      w.begin_object();
      w.field("pc", hex);
      w.key("function");
      if (function.empty()) w.null();
      else w.value(function);
      w.field("object", object);
      w.field("text", text);
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
}

std::string answer_greenlets(bool backtraces) {
  std::vector<HubRecord> hubs = capture_all(backtraces);
  int64_t now = monotonic_coarse_ns();
  JsonWriter w;
  begin_answer(w, backtraces ? "dump" : "greenlets");
  w.field("clock", "CLOCK_MONOTONIC_COARSE");
  w.field("now", static_cast<double>(now) / 1e9);
  w.key("unresponsive_hubs").begin_array();
  for (const HubRecord& h : hubs)
    if (!h.responsive) w.value(static_cast<uint64_t>(h.index));
  w.end_array();
  w.key("greenlets").begin_array();
  for (const HubRecord& h : hubs)
    for (const GreenletRecord& g : h.greenlets) write_greenlet(w, h, g, now, backtraces);
  w.end_array();
  w.end_object();
  return w.str();
}

// The trace's per-call counters (call_counters.hpp), kept from start-up on
// since the control socket turned them on: per call, how many went green,
// how many passed through to libc, and by which route.
std::string answer_counters() {
  struct PerCall {
    std::string call;
    uint64_t by_route[static_cast<size_t>(trace::Route::kCount)] = {};
  };
  std::vector<PerCall> calls;
  for (const trace::CallCount& c : trace::call_counts()) {
    auto it = std::find_if(calls.begin(), calls.end(),
                           [&](const PerCall& p) { return p.call == c.call; });
    if (it == calls.end()) it = calls.insert(calls.end(), PerCall{c.call, {}});
    if (c.route < trace::Route::kCount) it->by_route[static_cast<size_t>(c.route)] += c.count;
  }
  std::sort(calls.begin(), calls.end(),
            [](const PerCall& a, const PerCall& b) { return a.call < b.call; });
  JsonWriter w;
  begin_answer(w, "counters");
  w.field("available", trace::counting());
  w.key("counters").begin_array();
  for (const PerCall& p : calls) {
    uint64_t green = p.by_route[static_cast<size_t>(trace::Route::kGreen)];
    uint64_t total = 0;
    for (uint64_t n : p.by_route) total += n;
    w.begin_object();
    w.field("call", p.call);
    w.field("calls", total);
    w.field("green", green);
    w.field("passthrough", total - green);
    w.key("routes").begin_object();
    for (size_t r = 0; r < static_cast<size_t>(trace::Route::kCount); ++r) {
      if (p.by_route[r] != 0) w.field(trace::route_name(static_cast<trace::Route>(r)), p.by_route[r]);
    }
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.str();
}

std::string answer(const std::string& request) {
  if (request == "hubs") return answer_hubs();
  if (request == "greenlets") return answer_greenlets(false);
  if (request == "dump") return answer_greenlets(true);
  if (request == "counters") return answer_counters();
  JsonWriter w;
  if (request == "help") {
    begin_answer(w, "help");
    w.key("requests").begin_array();
    for (const char* r : {"hubs", "greenlets", "counters", "dump", "help"}) w.value(r);
    w.end_array();
    w.end_object();
    return w.str();
  }
  w.begin_object();
  w.field("error", "unknown request \"" + request + "\" (try: hubs, greenlets, counters, dump, help)");
  w.end_object();
  return w.str();
}

// --- the server thread --------------------------------------------------------

bool write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = GREENHUB_REAL(send)(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Serves what a client sent; false: drop the client.
bool serve_client(Client& c) {
  char buf[512];
  ssize_t n = GREENHUB_REAL(recv)(c.fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) return false;
  c.pending.append(buf, static_cast<size_t>(n));
  size_t newline;
  while ((newline = c.pending.find('\n')) != std::string::npos) {
    std::string request = c.pending.substr(0, newline);
    c.pending.erase(0, newline + 1);
    while (!request.empty() && (request.back() == '\r' || request.back() == ' '))
      request.pop_back();
    while (!request.empty() && request.front() == ' ') request.erase(0, 1);
    if (request.empty()) continue;
    if (!write_all(c.fd, answer(request) + "\n")) return false;
  }
  if (c.pending.size() > kMaxRequestBytes) {
    JsonWriter w;
    w.begin_object().field("error", "request line too long").end_object();
    write_all(c.fd, w.str() + "\n");
    return false;
  }
  return true;
}

void* control_thread_main(void*) {
  std::vector<Client> clients;
  int64_t next_sample = 0;
  for (;;) {
    int64_t now = monotonic_ns();
    if (now >= next_sample) {
      sample_switches();
      next_sample = now + kSampleIntervalMs * 1000000LL;
    }
    std::vector<pollfd> fds;
    fds.push_back({control->listen_fd, POLLIN, 0});
    for (const Client& c : clients) fds.push_back({c.fd, POLLIN, 0});
    int timeout = static_cast<int>((next_sample - now) / 1000000LL) + 1;
    int n = GREENHUB_REAL(poll)(fds.data(), fds.size(), timeout);
    if (n <= 0) continue;
    for (size_t i = fds.size(); i-- > 1;) {
      if (fds[i].revents == 0) continue;
      Client& c = clients[i - 1];
      if (!serve_client(c)) {
        close_private(c.fd);
        clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i - 1));
      }
    }
    if (fds[0].revents & POLLIN) {
      int fd = GREENHUB_REAL(accept4)(control->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      if (clients.size() >= kMaxClients) {
        GREENHUB_REAL(close)(fd);
        continue;
      }
      fd = FdTable::make_private(fd);
      timeval send_timeout{2, 0};  // a client that stops reading is dropped
      GREENHUB_REAL(setsockopt)(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
      clients.push_back({fd, {}});
    }
  }
  return nullptr;
}

void remove_socket_at_exit() {
  if (control != nullptr && control->owner == getpid()) unlink(control->path.c_str());
}

// After the preload's runtime (constructor 101).
__attribute__((constructor(102))) void start_control_socket() {
  const char* value = std::getenv("GREENHUB_CONTROL");
  if (value == nullptr || *value == '\0' || !initialized()) return;
  std::string path = expand_path(value);
  int fd = open_listener(path);
  if (fd < 0) return;
  control = new ControlState{path, fd, getpid(), {}};
  trace::enable_counters();

  // Every signal blocked from the thread's first instruction on.
  sigset_t all, previous;
  sigfillset(&all);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &all, &previous);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc;
  {
    RuntimeThreadScope scope;
    rc = GREENHUB_REAL(pthread_create)(&thread, &attr, control_thread_main, nullptr);
  }
  pthread_attr_destroy(&attr);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
  if (rc != 0) {
    complain(path, std::string("cannot start its thread: ") + std::strerror(rc));
    close_private(fd);
    unlink(path.c_str());
    delete control;
    control = nullptr;
    return;
  }
  GREENHUB_REAL(pthread_setname_np)(thread, "greenhub-ctl");
  std::atexit(remove_socket_at_exit);
}

}  // namespace

}  // namespace greenhub::preload
