// Determinism (the gevent tutorial's "Deterministic" example): a Pool of 10
// maps echo over 0..9 with imap_unordered, four times. Each run yields the
// same results every time: greenlets on one hub are scheduled
// deterministically, unlike a pool of OS processes. The program prints each
// run's results in completion order, then as a sorted set (as the seed
// compares them), and whether the four runs agree.
#include <cstdio>
#include <ranges>
#include <set>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;
using namespace std::chrono_literals;

namespace {

int echo(int i) {
  gh::sleep(1ms);
  return i;
}

template <class Range>
std::string join(const Range& values, const char* separator) {
  std::string out;
  for (int v : values) {
    if (!out.empty()) out += separator;
    out += std::to_string(v);
  }
  return out;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  gh::Pool pool(10);
  std::vector<std::set<int>> runs;
  for (int run = 1; run <= 4; ++run) {
    std::vector<int> results;
    for (int v : pool.imap_unordered(echo, std::views::iota(0, 10))) results.push_back(v);
    std::set<int> as_set(results.begin(), results.end());
    std::printf("run%d: [%s]\n", run, join(results, ", ").c_str());
    std::printf("run%d as a set: {%s}\n", run, join(as_set, ", ").c_str());
    runs.push_back(std::move(as_set));
  }
  const bool same = runs[0] == runs[1] && runs[1] == runs[2] && runs[2] == runs[3];
  std::printf("run1 == run2 == run3 == run4: %s\n", same ? "True" : "False");
  return same ? 0 : 1;
}
