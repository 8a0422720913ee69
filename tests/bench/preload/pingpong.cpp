// Mutex + condition variable ping-pong between two threads: each round trip
// hands a turn from A to B and back, each hand-over a pthread_cond_signal
// under the mutex and a pthread_cond_wait on the other side. The same plain
// pthread program runs natively (a futex wake-up of a thread on the other
// core, or a context switch on this one, per hand-over) and under
// LD_PRELOAD (a green switch when both threads live on one hub).
//
// Prints `pingpong.round_trip_ns` (median over kReps batches). Smoke mode
// checks that every hand-over happened in order.
#include <pthread.h>

#include "../common/measure.hpp"

namespace {

pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t to_a = PTHREAD_COND_INITIALIZER;
pthread_cond_t to_b = PTHREAD_COND_INITIALIZER;
int turn = 0;  // 0: A's, 1: B's
long rounds_total = 0;
long b_hand_overs = 0;

void* player_b(void*) {
  pthread_mutex_lock(&mutex);
  for (long i = 0; i < rounds_total; ++i) {
    while (turn != 1) pthread_cond_wait(&to_b, &mutex);
    turn = 0;
    ++b_hand_overs;
    pthread_cond_signal(&to_a);
  }
  pthread_mutex_unlock(&mutex);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const int reps = smoke ? 2 : 5;
  const long rounds = smoke ? 500 : 20000;
  rounds_total = rounds * reps;
  bench::Checks checks;
  pthread_t b;
  pthread_create(&b, nullptr, player_b, nullptr);
  std::vector<double> ns;
  pthread_mutex_lock(&mutex);
  for (int r = 0; r < reps; ++r) {
    const int64_t start = bench::now_ns();
    for (long i = 0; i < rounds; ++i) {
      turn = 1;
      pthread_cond_signal(&to_b);
      while (turn != 0) pthread_cond_wait(&to_a, &mutex);
    }
    ns.push_back(static_cast<double>(bench::now_ns() - start) / static_cast<double>(rounds));
  }
  pthread_mutex_unlock(&mutex);
  pthread_join(b, nullptr);
  checks.expect(b_hand_overs == rounds_total, "every round trip went through B");
  std::printf("# mutex+condvar ping-pong between two threads, median of %d batches of %ld round trips\n",
              reps, rounds);
  bench::report("pingpong.round_trip_ns", bench::median(ns));
  return checks.exit_status();
}
