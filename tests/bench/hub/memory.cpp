// Memory of live greenlets blocked in sleep, vs threads blocked in
// nanosleep.
//
//   greenlet  kGreenlets greenlets with the default stack size, each parked
//             in greenhub::sleep(1 h). RSS per greenlet is the growth of
//             VmRSS from just before the spawns to when every one of them is
//             parked, divided by their count: the greenlet object, its stack
//             pages, its libev timer. The measuring arrays are allocated and
//             touched before the first reading.
//   pthread   kThreads threads, each blocked in clock_nanosleep(1 h); the same
//             VmRSS growth per thread. The kernel stack of each thread (16 KiB
//             on x86-64) is kernel memory and not in VmRSS.
//
// Also reported: the resident stack pages per greenlet (the Rss of the
// mappings that hold the greenlets' stacks, from /proc/self/smaps), the
// page-table growth per greenlet (VmPTE, not part of RSS), and the VMA
// count of the process, to show how guarded stacks fit under
// vm.max_map_count.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "../common/measure.hpp"
#include "greenhub/greenhub.hpp"

namespace gh = greenhub;
using namespace std::chrono_literals;

namespace {

struct Reading {
  int64_t rss;
  int64_t pte;
  int64_t vmas;
};

Reading read_now() {
  return {bench::status_bytes("VmRSS"), bench::status_bytes("VmPTE"), bench::vma_count()};
}

// Sum of the Rss of the mappings that contain at least one of `addresses`.
int64_t rss_of_mappings_holding(std::vector<uintptr_t> addresses) {
  std::sort(addresses.begin(), addresses.end());
  FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return -1;
  char line[512];
  bool holds = false;
  int64_t total = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long begin, end;
    if (std::sscanf(line, "%lx-%lx ", &begin, &end) == 2) {  // a mapping's header line
      auto it = std::lower_bound(addresses.begin(), addresses.end(), begin);
      holds = it != addresses.end() && *it < end;
      continue;
    }
    long kb;
    if (holds && std::sscanf(line, "Rss: %ld kB", &kb) == 1) total += kb * 1024;
  }
  std::fclose(f);
  return total;
}

void* sleep_an_hour(void* started) {
  static_cast<std::atomic<long>*>(started)->fetch_add(1);
  timespec ts{3600, 0};
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {
  }
  return nullptr;
}

struct GreenletFigures {
  double rss_per_greenlet;
  double stack_pages_per_greenlet;
  double pte_per_greenlet;
  int64_t vmas_before, vmas_after;
};

// With `teardown`, kills and joins them all afterwards; without, leaves them
// parked for the process to exit.
GreenletFigures measure_greenlets(long n, bool teardown, bench::Checks& checks) {
  const long page = sysconf(_SC_PAGESIZE);
  // Measuring scaffolding, resident before the first reading.
  std::vector<gh::Greenlet<void>> greenlets(static_cast<size_t>(n));
  std::vector<uintptr_t> frames(static_cast<size_t>(n), 0);
  long parked = 0;
  gh::spawn([] {}).join();  // the hub and the stack pool exist

  const Reading before = read_now();
  for (long i = 0; i < n; ++i) {
    greenlets[static_cast<size_t>(i)] = gh::spawn([&frames, &parked, i] {
      frames[static_cast<size_t>(i)] = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
      ++parked;
      gh::sleep(1h);
    });
  }
  // The ready queue is FIFO: once main runs again, every greenlet has run
  // up to its sleep.
  gh::sleep(0ms);
  const Reading after = read_now();
  const int64_t stack_rss = rss_of_mappings_holding(frames);

  checks.expect(parked == n, "every greenlet reached its sleep");
  checks.expect(gh::Hub::current().live_greenlets().size() == static_cast<size_t>(n) + 1,
                "every greenlet is live while it sleeps");
  bool all_parked = true;
  for (auto& g : greenlets) all_parked &= g.state()->state() == gh::GreenletBase::State::kParked;
  checks.expect(all_parked, "every greenlet is parked");
  checks.expect(before.rss > 0 && after.rss > 0 && stack_rss > 0,
                "VmRSS and smaps are readable");

  if (teardown) {
    for (auto& g : greenlets) g.kill(nullptr, /*block=*/false);
    bool all_killed = true;
    for (auto& g : greenlets) all_killed &= g.join() && g.killed();
    checks.expect(all_killed, "every greenlet ended by kill()");
  }

  const auto per = [n](int64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(n); };
  return {per(after.rss - before.rss), per(stack_rss) / static_cast<double>(page),
          per(after.pte - before.pte), before.vmas, after.vmas};
}

double measure_threads(long n, bench::Checks& checks) {
  std::vector<pthread_t> threads(static_cast<size_t>(n));
  std::atomic<long> started{0};
  const Reading before = read_now();
  for (auto& t : threads) {
    if (int rc = pthread_create(&t, nullptr, sleep_an_hour, &started); rc != 0) {
      std::fprintf(stderr, "pthread_create: %s\n", std::strerror(rc));
      std::exit(1);
    }
  }
  while (started.load() < n) usleep(1000);
  usleep(20'000);  // let the last ones reach clock_nanosleep
  const Reading after = read_now();
  for (auto& t : threads) pthread_cancel(t);
  for (auto& t : threads) pthread_join(t, nullptr);
  checks.expect(started.load() == n, "every thread started");
  return static_cast<double>(after.rss - before.rss) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const long greenlets = smoke ? 1000 : 100'000;
  const long threads = smoke ? 50 : 1'000;

  bench::Checks checks;
  // Threads first: the greenlets' pooled stacks are never unmapped.
  const double thread_rss = measure_threads(threads, checks);
  // The full run does not tear 100,000 greenlets down: each exit past the
  // pool's 256 warm stacks costs an madvise (tens of us here), seconds in all.
  const GreenletFigures g = measure_greenlets(greenlets, /*teardown=*/smoke, checks);
  const int64_t max_map_count = bench::read_proc_number("/proc/sys/vm/max_map_count");
  checks.expect(g.vmas_after > 0 && g.vmas_after < max_map_count,
                "the process's VMAs stay under vm.max_map_count");

  std::printf("# %ld greenlets parked in sleep (stack size %zu KiB) vs %ld threads in "
              "nanosleep\n",
              greenlets, gh::Hub::default_stack_size() / 1024, threads);
  bench::report("memory.greenlets", static_cast<double>(greenlets));
  bench::report("memory.stack_kib", static_cast<double>(gh::Hub::default_stack_size() / 1024));
  bench::report("memory.greenlet_rss_kib", g.rss_per_greenlet / 1024);
  bench::report("memory.greenlet_stack_pages", g.stack_pages_per_greenlet);
  bench::report("memory.greenlet_pte_bytes", g.pte_per_greenlet);
  bench::report("memory.threads", static_cast<double>(threads));
  bench::report("memory.thread_rss_kib", thread_rss / 1024);
  bench::report("memory.vmas_before", static_cast<double>(g.vmas_before));
  bench::report("memory.vmas_after", static_cast<double>(g.vmas_after));
  bench::report("memory.max_map_count", static_cast<double>(max_map_count));
  // Without teardown, skip the hub's destructor at exit too (it would
  // release every parked greenlet's stack).
  std::_Exit(checks.exit_status());
}
