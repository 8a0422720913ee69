// pthread_create + pthread_join of an empty thread, one after the other: the
// same plain pthread program runs natively and under LD_PRELOAD
// (tests/bench/run-preload runs it both ways and compares). Natively each
// iteration is a clone(), a glibc stack from its cache, a futex wake-up of
// the joiner; under the preload it is a green thread: a greenlet on a pooled
// stack, started and joined on a hub.
//
// Prints `create_join.ns` (median over kReps batches of kCount threads).
// Smoke mode checks that every thread ran before its join.
#include <pthread.h>

#include "../common/measure.hpp"
#include "../common/pthread_batch.hpp"

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const int reps = smoke ? 2 : 7;
  const long count = smoke ? 200 : 4000;
  bench::Checks checks;
  long ran = 0;
  bench::pthread_create_join_ns(count / 10, &ran);  // warm-up: stack caches, pools, lazy binding
  std::vector<double> ns;
  for (int r = 0; r < reps; ++r) ns.push_back(bench::pthread_create_join_ns(count, &ran));
  checks.expect(ran == count / 10 + count * reps, "every thread ran before its join");
  std::printf("# pthread_create+join of an empty thread, median of %d batches of %ld\n", reps, count);
  bench::report("create_join.ns", bench::median(ns));
  return checks.exit_status();
}
