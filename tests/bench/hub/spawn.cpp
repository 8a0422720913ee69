// Spawn + join of an empty greenlet vs pthread_create + pthread_join of an
// empty thread.
//
//   greenlet  greenhub::spawn([] {}) then join(), one after the other: the
//             greenlet object, a pooled stack, the switch in, the run, the
//             death (joiners woken, stack back to the pool), the switch
//             back; ns per spawn+join.
//   pthread   pthread_create of a function that returns at once, then
//             pthread_join; ns per create+join (glibc reuses cached thread
//             stacks, so this is the cheapest a thread gets).
//
// The two are measured alternately in short repetitions (some ms each); the
// best repetition of each is reported (see switch.cpp).
#include <pthread.h>

#include "../common/measure.hpp"
#include "../common/pthread_batch.hpp"
#include "greenhub/greenhub.hpp"

namespace gh = greenhub;

namespace {

double greenlet_ns(long count, long* ran) {
  const int64_t start = bench::now_ns();
  for (long i = 0; i < count; ++i) {
    auto g = gh::spawn([ran] { ++*ran; });
    g.join();
  }
  return static_cast<double>(bench::now_ns() - start) / static_cast<double>(count);
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const int reps = smoke ? 2 : 15;
  const long greenlets = smoke ? 1000 : 20'000;
  const long threads = smoke ? 100 : 200;

  bench::Checks checks;
  std::vector<double> greenlet, pthread;
  long greenlets_ran = 0, threads_ran = 0;
  for (int r = 0; r < reps; ++r) {
    pthread.push_back(bench::pthread_create_join_ns(threads, &threads_ran));
    greenlet.push_back(greenlet_ns(greenlets, &greenlets_ran));
  }
  checks.expect(greenlets_ran == greenlets * reps, "every spawned greenlet ran before its join");
  checks.expect(threads_ran == threads * reps, "every thread ran before its join");
  checks.expect(gh::Hub::current().live_greenlets().size() == 1,
                "no greenlet outlives its join (only main is live)");

  std::printf("# spawn+join of an empty greenlet vs pthread_create+join, best of %d\n", reps);
  bench::report("spawn.pthread_ns", *std::min_element(pthread.begin(), pthread.end()));
  bench::report("spawn.greenlet_ns", *std::min_element(greenlet.begin(), greenlet.end()));
  return checks.exit_status();
}
