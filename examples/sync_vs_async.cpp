// Synchronous vs asynchronous execution (the gevent tutorial's first example).
//
// Ten tasks each sleep 0-2 ms (random) and print "Task N done". Run one after
// the other they finish in order; spawned together and joined with joinall()
// they all start before the first one finishes, because each sleep lets the
// hub run the others. Each task also prints "Task N started" so that the
// interleaving can be checked from the output.
#include <cstdio>
#include <random>
#include <vector>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;

namespace {

std::mt19937& rng() {
  static std::mt19937 engine{std::random_device{}()};
  return engine;
}

void task(int pid) {
  std::printf("Task %d started\n", pid);
  std::uniform_int_distribution<int> ms(0, 2);
  gh::sleep(std::chrono::milliseconds(ms(rng())));
  std::printf("Task %d done\n", pid);
}

void synchronous() {
  for (int i = 0; i < 10; ++i) task(i);
}

void asynchronous() {
  std::vector<gh::AnyGreenlet> threads;
  for (int i = 0; i < 10; ++i) threads.push_back(gh::spawn(task, i));
  gh::joinall(threads);
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::puts("Synchronous:");
  synchronous();
  std::puts("Asynchronous:");
  asynchronous();
  std::puts("结束");
  return 0;
}
