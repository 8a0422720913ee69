#include <gtest/gtest.h>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Timeout, ScopeInterruptsAWait) {
  auto start = std::chrono::steady_clock::now();
  bool caught = false;
  try {
    gh::Timeout t(10ms);
    gh::sleep(10s);
  } catch (const gh::Timeout&) {
    caught = true;
  }
  EXPECT_TRUE(caught);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(Timeout, CancelledOnScopeExit) {
  {
    gh::Timeout t(5ms);
    gh::sleep(1ms);
  }
  gh::sleep(10ms);  // would throw if the timeout leaked
  SUCCEED();
}

TEST(Timeout, FiredButUnraisedIsWithdrawnAtScopeExit) {
  {
    gh::Timeout t(1ms);
    // Busy-wait past the deadline without a wait, then yield once so the
    // timer fires while we are runnable... but leave the scope first.
    auto end = std::chrono::steady_clock::now() + 3ms;
    while (std::chrono::steady_clock::now() < end) {
    }
  }
  gh::sleep(2ms);
  SUCCEED();
}

TEST(Timeout, ObjectStartAndCancel) {
  gh::Timeout t(5ms, false);
  EXPECT_FALSE(t.pending());
  t.start();
  EXPECT_TRUE(t.pending());
  t.cancel();
  EXPECT_FALSE(t.pending());
  gh::sleep(10ms);
}

TEST(Timeout, NestedTimeoutsIdentifyWhichFired) {
  gh::Timeout outer(1s);
  try {
    gh::Timeout inner(5ms);
    gh::sleep(2s);
  } catch (const gh::Timeout& t) {
    EXPECT_FALSE(t == outer);
    EXPECT_TRUE(outer.pending());
  }
}

TEST(Timeout, WithTimeoutReturnsOrThrows) {
  EXPECT_EQ(gh::with_timeout(1s, [](int x) { return x * 2; }, 21), 42);
  EXPECT_THROW(gh::with_timeout(5ms, [] { gh::sleep(1s); }), gh::Timeout);
}

TEST(Timeout, AppliesInsideASpawnedGreenlet) {
  auto g = gh::spawn([] {
    try {
      gh::Timeout t(5ms);
      gh::sleep(1s);
      return std::string("slept");
    } catch (const gh::Timeout&) {
      return std::string("Could not complete");
    }
  });
  EXPECT_EQ(g.get(), "Could not complete");
}
