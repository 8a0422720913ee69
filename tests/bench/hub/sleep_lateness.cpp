// Lateness of wake-ups: many sleepers, each sleeping 10 ms.
//
//   greenlet  kGreenlets greenlets spawned at once; each reads the monotonic
//             clock, sleeps 10 ms with greenhub::sleep, reads the clock
//             again and records how late it woke (woke - (start + 10 ms)).
//             The greenlets start one after another as the hub runs them,
//             so their deadlines spread over the time it takes to start
//             them all (reported as arm_span_ms); a greenlet whose timer
//             fires while others are still starting queues behind them.
//   pthread   kThreads threads doing the same with clock_nanosleep: what
//             the kernel's timers give one thread per sleeper.
//
// Reported: median and p99 lateness of each, in microseconds.
#include <pthread.h>
#include <time.h>

#include "../common/measure.hpp"
#include "greenhub/greenhub.hpp"

namespace gh = greenhub;

namespace {

constexpr int64_t kSleepNs = 10'000'000;

struct Lateness {
  std::vector<int64_t> late_ns;  // one per sleeper
  int64_t arm_span_ns = 0;       // first to last sleep start
};

Lateness greenlet_lateness(long n) {
  Lateness out;
  out.late_ns.assign(static_cast<size_t>(n), -1);
  std::vector<int64_t> armed(static_cast<size_t>(n), 0);
  std::vector<gh::Greenlet<void>> greenlets(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) {
    greenlets[static_cast<size_t>(i)] = gh::spawn([&out, &armed, i] {
      const int64_t deadline = bench::now_ns() + kSleepNs;
      armed[static_cast<size_t>(i)] = deadline;
      gh::sleep(gh::Duration(kSleepNs));
      out.late_ns[static_cast<size_t>(i)] = bench::now_ns() - deadline;
    });
  }
  for (auto& g : greenlets) g.join();
  const auto [first, last] = std::minmax_element(armed.begin(), armed.end());
  out.arm_span_ns = *last - *first;
  return out;
}

struct ThreadSlot {
  int64_t late_ns = -1;
};

void* thread_sleeper(void* arg) {
  const int64_t deadline = bench::now_ns() + kSleepNs;
  timespec ts{0, kSleepNs};
  while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {
  }
  static_cast<ThreadSlot*>(arg)->late_ns = bench::now_ns() - deadline;
  return nullptr;
}

Lateness thread_lateness(long n) {
  std::vector<ThreadSlot> slots(static_cast<size_t>(n));
  std::vector<pthread_t> threads(static_cast<size_t>(n));
  for (size_t i = 0; i < threads.size(); ++i) {
    if (int rc = pthread_create(&threads[i], nullptr, thread_sleeper, &slots[i]); rc != 0) {
      std::fprintf(stderr, "pthread_create: %s\n", std::strerror(rc));
      std::exit(1);
    }
  }
  for (auto& t : threads) pthread_join(t, nullptr);
  Lateness out;
  for (auto& s : slots) out.late_ns.push_back(s.late_ns);
  return out;
}

double us(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const long greenlets = smoke ? 1000 : 100'000;
  const long threads = smoke ? 50 : 1'000;

  bench::Checks checks;
  // Greenlets first, while the process has a single thread: once other
  // threads have run, the kernel may send TLB-flush IPIs to their CPU on
  // every madvise of the stack pool (see the notes of run-hub).
  Lateness g = greenlet_lateness(greenlets);
  Lateness t = thread_lateness(threads);
  const int64_t g_min = *std::min_element(g.late_ns.begin(), g.late_ns.end());
  const int64_t t_min = *std::min_element(t.late_ns.begin(), t.late_ns.end());
  // -1 marks a sleeper that never recorded its wake-up.
  checks.expect(g_min >= 0, "every greenlet woke, none before its deadline");
  checks.expect(t_min >= 0, "every thread woke, none before its deadline");

  std::printf("# lateness of 10 ms sleeps: %ld greenlets vs %ld threads\n", greenlets, threads);
  bench::report("sleep.greenlets", static_cast<double>(greenlets));
  bench::report("sleep.greenlet_p50_us", us(bench::quantile(g.late_ns, 0.5)));
  bench::report("sleep.greenlet_p99_us", us(bench::quantile(g.late_ns, 0.99)));
  bench::report("sleep.greenlet_max_us", us(bench::quantile(g.late_ns, 1.0)));
  bench::report("sleep.greenlet_arm_span_ms", us(g.arm_span_ns) / 1000.0);
  bench::report("sleep.threads", static_cast<double>(threads));
  bench::report("sleep.thread_p50_us", us(bench::quantile(t.late_ns, 0.5)));
  bench::report("sleep.thread_p99_us", us(bench::quantile(t.late_ns, 0.99)));
  return checks.exit_status();
}
