// GREENHUB_STATS=1 (greenrun --stats): a short summary on stderr at exit.
//
// How it works
//   At start-up the per-call counters (greenhub/call_counters.hpp) are
//   switched on, and a handler is registered with atexit() before main()
//   runs, so that it runs after every handler the program registers. It
//   prints what the runtime already counts: per hub, the greenlet switches,
//   loop iterations and greenlets spawned; the calls that went green
//   (waited on a hub) and those passed through to libc, per function; and
//   the stalls the blocking monitor reported. Nothing is printed for a
//   process that ends with _exit() or a signal.
//
//   The summary goes to a private duplicate of stderr taken at start-up:
//   programs like GNU cat close stderr in their own atexit handler, which
//   runs before this one.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>

#include "blocking_monitor.hpp"
#include "fd_table.hpp"
#include "greenhub/call_counters.hpp"
#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {
namespace {

int stats_fd = -1;

void print(const char* format, ...) __attribute__((format(printf, 1, 2)));
void print(const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (n <= 0) return;
  size_t length = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
  ssize_t ignored = GREENHUB_REAL(write)(stats_fd, line, length);
  (void)ignored;
}

struct CallTotals {
  uint64_t green = 0;
  uint64_t passed_through = 0;
};

void print_stats() {
  const pid_t pid = getpid();
  const size_t hubs = hub_count();
  uint64_t switches = 0, spawned = 0;
  for (size_t i = 0; i < hubs; ++i) {
    const HubCounters& c = hub_at(i)->counters();
    switches += c.switches.load(std::memory_order_relaxed);
    spawned += c.spawned.load(std::memory_order_relaxed) - 1;  // not the hub's own greenlet
  }
  std::map<std::string, CallTotals> calls;
  uint64_t green = 0, passed = 0;
  for (const trace::CallCount& c : trace::call_counts()) {
    CallTotals& t = calls[c.call];
    if (c.route == trace::Route::kGreen) {
      t.green += c.count;
      green += c.count;
    } else {
      t.passed_through += c.count;
      passed += c.count;
    }
  }
  print("greenhub: stats (pid %d): %zu hub%s, %" PRIu64 " switches, %" PRIu64
        " greenlets spawned, %" PRIu64 " calls went green, %" PRIu64
        " passed through to libc, %" PRIu64 " stall%s reported\n",
        static_cast<int>(pid), hubs, hubs == 1 ? "" : "s", switches, spawned, green, passed,
        stalls_reported(), stalls_reported() == 1 ? "" : "s");
  for (size_t i = 0; i < hubs; ++i) {
    const HubCounters& c = hub_at(i)->counters();
    print("  hub %zu: %" PRIu64 " switches, %" PRIu64 " loop iterations, %" PRIu64
          " greenlets spawned\n",
          i, c.switches.load(std::memory_order_relaxed),
          c.loop_iterations.load(std::memory_order_relaxed),
          c.spawned.load(std::memory_order_relaxed) - 1);
  }
  // The busiest calls first.
  std::vector<std::pair<std::string, CallTotals>> sorted(calls.begin(), calls.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.green + a.second.passed_through > b.second.green + b.second.passed_through;
  });
  for (const auto& [name, t] : sorted) {
    print("  %-16s %10" PRIu64 " green %10" PRIu64 " passed through\n", name.c_str(), t.green,
          t.passed_through);
  }
}

// After the runtime's start-up (constructor 101).
__attribute__((constructor(111))) void register_stats() {
  if (!initialized() || !config().stats) return;
  int fd = GREENHUB_REAL(fcntl)(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return;  // no stderr: nowhere to print
  stats_fd = FdTable::make_private(fd);
  trace::enable_counters();
  std::atexit(print_stats);
}

}  // namespace
}  // namespace greenhub::preload
