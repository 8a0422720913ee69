// What the stack pool does with memory: the pages of freed stacks go back
// to the system once the hub has had a few turns (beyond a small allowance
// of warm stacks kept for reuse), and a reused stack keeps its guard.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

namespace {

constexpr size_t kStackSize = 256 * 1024;
constexpr size_t kTouchBytes = 128 * 1024;

long resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "re");
  long size = 0, resident = 0;
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

// Not instrumented, so that under AddressSanitizer the array is on the
// greenlet's own stack rather than on ASan's fake stack.
__attribute__((noinline, no_sanitize("address"))) int touch_stack() {
  volatile char bytes[kTouchBytes];
  for (size_t i = 0; i < kTouchBytes; i += 4096) bytes[i] = 1;
  return bytes[0];
}

int recurse(int n) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(n);
  return n == 0 ? pad[0] : recurse(n - 1) + pad[0];
}

}  // namespace

TEST(StackMemory, FreedStacksGiveTheirPagesBack) {
  constexpr int kGreenlets = 2000;
  gh::Event release;
  std::vector<gh::Greenlet<void>> greenlets;
  for (int i = 0; i < kGreenlets; ++i) {
    greenlets.push_back(gh::Greenlet<void>([&release] {
      touch_stack();
      release.wait();
    }));
    greenlets.back().set_stack_size(kStackSize).start();
  }
  gh::sleep(0ms);  // every greenlet has touched its stack and waits
  const long peak = resident_bytes();
  release.set();
  for (auto& g : greenlets) g.join();
  greenlets.clear();

  // All but a few hundred of the stacks are excess: the hub gives their
  // pages back in batches while it turns. Wait (bounded) until it has.
  const long touched = static_cast<long>(kGreenlets) * static_cast<long>(kTouchBytes);
  long now = resident_bytes();
  for (int i = 0; i < 200 && peak - now < touched / 2; ++i) {
    gh::sleep(10ms);
    now = resident_bytes();
  }
  EXPECT_GE(peak - now, touched / 2) << "peak " << peak << " now " << now;
}

TEST(StackMemoryDeathTest, TrimmedStackKeepsItsGuard) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        // 600 stacks freed: all but the kept allowance (256) are trimmed.
        // Then 300 live greenlets take every kept one, so the next stack
        // handed out is a trimmed one.
        std::vector<gh::Greenlet<void>> greenlets;
        for (int i = 0; i < 600; ++i) {
          greenlets.push_back(gh::Greenlet<void>([] { touch_stack(); }));
          greenlets.back().set_stack_size(192 * 1024).start();
        }
        for (auto& g : greenlets) g.join();
        greenlets.clear();
        gh::sleep(100ms);
        gh::Event never;
        for (int i = 0; i < 300; ++i) {
          greenlets.push_back(gh::Greenlet<void>([&never] { never.wait(); }));
          greenlets.back().set_stack_size(192 * 1024).start();
        }
        gh::sleep(0ms);
        auto g = gh::Greenlet<int>([] { return recurse(1 << 20); });
        g.set_name("reused").set_stack_size(192 * 1024).start();
        g.join();
      },
      "stack overflow in greenlet #[0-9]+ \"reused\" \\(stack size 192 KiB\\)");
}
