// Greenlet switch vs a raw Boost.Context jump.
//
//   raw       the main context and one fcontext bounce with
//             boost::context::detail::jump_fcontext; ns per jump.
//   greenlet  two greenlets ping-pong through greenhub::sleep(0): each call
//             puts the caller at the back of the ready queue and switches to
//             the other one; ns per sleep(0). Everything a yield costs is
//             in the figure: the bookkeeping of the switch (errno, the C++
//             exception globals), and the hub's poll of libev that the
//             direct-switch budget forces every so often.
//
// The two are measured alternately in short repetitions (a few ms each) and
// the best repetition of each is reported: on a shared machine that is the
// estimate of the operation's own cost least disturbed by other processes.
// hub_switches_per_yield (context switches the hub counted per sleep(0))
// shows how often the hub greenlet itself was entered.
#include <sys/mman.h>

#include <boost/context/detail/fcontext.hpp>

#include "../common/measure.hpp"
#include "greenhub/greenhub.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace ctx = boost::context::detail;
namespace gh = greenhub;

namespace {

constexpr size_t kRawStackSize = 64 * 1024;

#if defined(__SANITIZE_ADDRESS__)
// ASan must be told about each stack change (only in the sanitizer build).
struct AsanStacks {
  const void* main_bottom = nullptr;
  size_t main_size = 0;
  void* partner_bottom = nullptr;
  void* main_fake = nullptr;
  void* partner_fake = nullptr;
};
AsanStacks asan_stacks;
#define ASAN_TO_PARTNER()                                                     \
  __sanitizer_start_switch_fiber(&asan_stacks.main_fake, asan_stacks.partner_bottom, \
                                 kRawStackSize)
#define ASAN_TO_MAIN()                                                                    \
  __sanitizer_start_switch_fiber(&asan_stacks.partner_fake, asan_stacks.main_bottom, \
                                 asan_stacks.main_size)
#define ASAN_LANDED_IN_PARTNER()                                                   \
  __sanitizer_finish_switch_fiber(asan_stacks.partner_fake, &asan_stacks.main_bottom, \
                                  &asan_stacks.main_size)
#define ASAN_LANDED_IN_MAIN() \
  __sanitizer_finish_switch_fiber(asan_stacks.main_fake, nullptr, nullptr)
#else
#define ASAN_TO_PARTNER() (void)0
#define ASAN_TO_MAIN() (void)0
#define ASAN_LANDED_IN_PARTNER() (void)0
#define ASAN_LANDED_IN_MAIN() (void)0
#endif

// The partner context: jumps straight back, forever.
void bounce(ctx::transfer_t t) {
  for (;;) {
    ASAN_LANDED_IN_PARTNER();
    ASAN_TO_MAIN();
    t = ctx::jump_fcontext(t.fctx, t.data);
  }
}

// ns per jump_fcontext, over 2 * round_trips jumps.
double raw_jump_ns(long round_trips, long* jumps) {
  void* stack = mmap(nullptr, kRawStackSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
#if defined(__SANITIZE_ADDRESS__)
  asan_stacks.partner_bottom = stack;
#endif
  ctx::fcontext_t partner =
      ctx::make_fcontext(static_cast<char*>(stack) + kRawStackSize, kRawStackSize, bounce);
  ASAN_TO_PARTNER();
  ctx::transfer_t t = ctx::jump_fcontext(partner, nullptr);  // warm up: enter it once
  ASAN_LANDED_IN_MAIN();
  const int64_t start = bench::now_ns();
  for (long i = 0; i < round_trips; ++i) {
    ASAN_TO_PARTNER();
    t = ctx::jump_fcontext(t.fctx, nullptr);
    ASAN_LANDED_IN_MAIN();
  }
  const int64_t elapsed = bench::now_ns() - start;
  *jumps += 2 * round_trips;
  munmap(stack, kRawStackSize);
  return static_cast<double>(elapsed) / static_cast<double>(2 * round_trips);
}

struct GreenletRun {
  double ns_per_yield;
  double hub_switches_per_yield;
};

// Two greenlets, `yields_each` sleep(0) calls each.
GreenletRun greenlet_switch_ns(long yields_each, long* yields_done) {
  gh::Hub& hub = gh::Hub::current();
  auto ping_pong = [yields_done](long n) {
    for (long i = 0; i < n; ++i) {
      gh::sleep(gh::Duration::zero());
      ++*yields_done;
    }
  };
  const uint64_t switches_before = hub.counters().switches.load();
  const int64_t start = bench::now_ns();
  auto a = gh::spawn(ping_pong, yields_each);
  auto b = gh::spawn(ping_pong, yields_each);
  a.join();
  b.join();
  const int64_t elapsed = bench::now_ns() - start;
  const double switches = static_cast<double>(hub.counters().switches.load() - switches_before);
  const double yields = static_cast<double>(2 * yields_each);
  return {static_cast<double>(elapsed) / yields, switches / yields};
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const int reps = smoke ? 2 : 31;
  const long round_trips = smoke ? 1000 : 200'000;
  const long yields_each = smoke ? 1000 : 50'000;

  bench::Checks checks;
  std::vector<double> raw, greenlet, hub_share;
  long jumps = 0, yields = 0;
  for (int r = 0; r < reps; ++r) {
    raw.push_back(raw_jump_ns(round_trips, &jumps));
    GreenletRun g = greenlet_switch_ns(yields_each, &yields);
    greenlet.push_back(g.ns_per_yield);
    hub_share.push_back(g.hub_switches_per_yield);
  }
  checks.expect(jumps == 2L * round_trips * reps, "every raw jump came back");
  checks.expect(yields == 2L * yields_each * reps, "every sleep(0) returned");
  // Each yield is at least one switch; the hub's polls add a few.
  const double share = bench::median(hub_share);
  checks.expect(share >= 1.0 && share < 2.0, "switches per sleep(0) in [1, 2)");

  std::printf("# greenlet switch (sleep(0) ping-pong) vs raw jump_fcontext, best of %d\n",
              reps);
  bench::report("switch.raw_jump_ns", *std::min_element(raw.begin(), raw.end()));
  bench::report("switch.greenlet_ns", *std::min_element(greenlet.begin(), greenlet.end()));
  bench::report("switch.greenlet_median_ns", bench::median(greenlet));
  bench::report("switch.hub_switches_per_yield", share);
  return checks.exit_status();
}
