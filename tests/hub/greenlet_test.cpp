#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cfenv>
#include <stdexcept>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Greenlet, SpawnJoinValue) {
  auto g = gh::spawn([](int x) { return x + 1; }, 2);
  EXPECT_TRUE(g.started());
  EXPECT_FALSE(g.ready());
  EXPECT_TRUE(g.join());
  EXPECT_TRUE(g.ready());
  EXPECT_TRUE(g.successful());
  EXPECT_EQ(g.value(), 3);
  EXPECT_EQ(g.get(), 3);
  EXPECT_EQ(g.exception(), nullptr);
}

TEST(Greenlet, ExceptionIsCapturedAndRethrownByGet) {
  auto g = gh::spawn([]() -> int { throw std::runtime_error("boom"); });
  g.join();
  EXPECT_TRUE(g.ready());
  EXPECT_FALSE(g.successful());
  EXPECT_FALSE(g.value().has_value());
  ASSERT_NE(g.exception(), nullptr);
  EXPECT_THROW(g.get(), std::runtime_error);
}

TEST(Greenlet, RunsInSpawnOrderAndInterleavesOnSleep) {
  std::vector<std::string> log;
  auto a = gh::spawn([&] {
    log.push_back("a1");
    gh::sleep(0ms);
    log.push_back("a2");
  });
  auto b = gh::spawn([&] {
    log.push_back("b1");
    gh::sleep(0ms);
    log.push_back("b2");
  });
  gh::joinall({a, b});
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "a2", "b2"}));
}

TEST(Greenlet, UnstartedGreenletRunsOnlyAfterStart) {
  int runs = 0;
  gh::Greenlet<> g([&] { ++runs; });
  EXPECT_FALSE(g.started());
  gh::sleep(1ms);
  EXPECT_EQ(runs, 0);
  g.start();
  g.join();
  EXPECT_EQ(runs, 1);
}

TEST(Greenlet, SpawnLaterWaitsForItsDelay) {
  auto start = std::chrono::steady_clock::now();
  auto g = gh::spawn_later(20ms, [&] { return std::chrono::steady_clock::now() - start; });
  EXPECT_GE(g.get(), 20ms);
}

TEST(Greenlet, KillRaisesGreenletExitAtTheNextWait) {
  bool cleaned_up = false;
  auto g = gh::spawn([&] {
    struct Cleanup {
      bool& flag;
      ~Cleanup() { flag = true; }
    } cleanup{cleaned_up};
    gh::sleep(10s);
  });
  gh::sleep(0ms);  // let it start and park
  g.kill();
  EXPECT_TRUE(g.ready());
  EXPECT_TRUE(g.killed());
  EXPECT_TRUE(g.successful());  // GreenletExit counts as success, as in gevent
  EXPECT_TRUE(cleaned_up);
}

TEST(Greenlet, KillBeforeStartPreventsRunning) {
  bool ran = false;
  auto g = gh::spawn([&] { ran = true; });
  g.kill();
  EXPECT_TRUE(g.ready());
  gh::sleep(1ms);
  EXPECT_FALSE(ran);
  auto v = gh::spawn([] { return 5; });
  v.kill();
  EXPECT_THROW(v.get(), gh::GreenletExit);
}

TEST(Greenlet, KillWithCustomException) {
  auto g = gh::spawn([] { gh::sleep(10s); });
  gh::sleep(0ms);
  g.kill(std::make_exception_ptr(std::runtime_error("custom")));
  EXPECT_FALSE(g.successful());
  EXPECT_THROW(std::rethrow_exception(g.exception()), std::runtime_error);
}

TEST(Greenlet, GreenletExitIsNotCaughtAsStdException) {
  bool swallowed = false;
  auto g = gh::spawn([&] {
    try {
      gh::sleep(10s);
    } catch (const std::exception&) {
      swallowed = true;
    }
  });
  gh::sleep(0ms);
  g.kill();
  EXPECT_FALSE(swallowed);
}

TEST(Greenlet, JoinTimeoutReturnsFalse) {
  auto g = gh::spawn([] { gh::sleep(1s); });
  EXPECT_FALSE(g.join(5ms));
  EXPECT_FALSE(g.ready());
  g.kill();
  EXPECT_TRUE(g.ready());
}

TEST(Greenlet, GetTimeoutThrowsTimeout) {
  auto g = gh::spawn([] {
    gh::sleep(1s);
    return 1;
  });
  EXPECT_THROW(g.get(5ms), gh::Timeout);
  g.kill();
}

TEST(Greenlet, JoinallMixedResultTypes) {
  auto a = gh::spawn([] { gh::sleep(2ms); });
  auto b = gh::spawn([] { gh::sleep(1ms); });
  auto c = gh::spawn([](int x) { return x + 1; }, 2);
  auto done = gh::joinall({a, b, c});
  EXPECT_EQ(done.size(), 3u);
  EXPECT_EQ(c.value(), 3);
}

TEST(Greenlet, JoinallCountAndTimeout) {
  auto fast = gh::spawn([] { gh::sleep(1ms); });
  auto slow = gh::spawn([] { gh::sleep(10s); });
  auto done = gh::joinall({fast, slow}, std::nullopt, false, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0] == gh::AnyGreenlet(fast));
  done = gh::joinall({fast, slow}, 5ms);
  EXPECT_EQ(done.size(), 1u);
  gh::killall({fast, slow});
  EXPECT_TRUE(slow.ready());
}

TEST(Greenlet, JoinallRaiseError) {
  auto ok = gh::spawn([] { gh::sleep(50ms); });
  auto bad = gh::spawn([] { throw std::logic_error("bad"); });
  EXPECT_THROW(gh::joinall({ok, bad}, std::nullopt, true), std::logic_error);
  ok.kill();
}

TEST(Greenlet, LinkRunsAfterDeath) {
  int linked_value = 0;
  auto g = gh::spawn([] { return 7; });
  g.link([&](gh::Greenlet<int> done) { linked_value = *done.value(); });
  g.join();
  gh::sleep(1ms);
  EXPECT_EQ(linked_value, 7);
}

TEST(Greenlet, GetcurrentIdentifiesTheRunningGreenlet) {
  EXPECT_TRUE(gh::getcurrent().is_main());
  uint64_t inner = 0;
  auto g = gh::spawn([&] { inner = gh::getcurrent().id(); });
  g.join();
  EXPECT_EQ(inner, g.id());
  EXPECT_NE(inner, gh::getcurrent().id());
}

TEST(Greenlet, ErrnoIsPerGreenlet) {
  auto g = gh::spawn([] {
    errno = 111;
    gh::sleep(0ms);
    return errno;
  });
  gh::sleep(0ms);
  errno = 222;
  EXPECT_EQ(g.get(), 111);
  EXPECT_EQ(errno, 222);
}

// The floating-point control state (MXCSR, x87 control word) is saved
// and restored by the context switch, as a thread's would be.
TEST(Greenlet, RoundingModeIsPerGreenlet) {
  const int original = std::fegetround();
  int seen_by_other = -1;
  auto a = gh::spawn([] {
    std::fesetround(FE_DOWNWARD);
    gh::sleep(0ms);
    return std::fegetround();
  });
  auto b = gh::spawn([&] { seen_by_other = std::fegetround(); });
  EXPECT_EQ(a.get(), FE_DOWNWARD);
  b.join();
  EXPECT_EQ(seen_by_other, original);
  EXPECT_EQ(std::fegetround(), original);
}

TEST(Greenlet, WaitingInsideCatchBlockKeepsExceptionState) {
  auto g = gh::spawn([]() -> std::string {
    try {
      throw std::runtime_error("inner");
    } catch (const std::runtime_error&) {
      gh::sleep(1ms);
      try {
        throw;  // rethrows this greenlet's exception, not another's
      } catch (const std::runtime_error& e) {
        return e.what();
      }
    }
  });
  auto h = gh::spawn([]() -> std::string {
    try {
      throw std::logic_error("other");
    } catch (const std::logic_error& e) {
      gh::sleep(2ms);
      return e.what();
    }
  });
  EXPECT_EQ(g.get(), "inner");
  EXPECT_EQ(h.get(), "other");
  EXPECT_EQ(std::uncaught_exceptions(), 0);
}

TEST(Greenlet, StackSizeIsHonoured) {
  auto g = gh::Greenlet<int>([] { return 1; }).set_stack_size(1 << 20);
  g.start();
  EXPECT_EQ(g.get(), 1);
  EXPECT_GE(g.stack_size(), size_t{1} << 20);
}

TEST(Greenlet, ManyGreenletsReuseStacks) {
  for (int round = 0; round < 3; ++round) {
    std::vector<gh::AnyGreenlet> all;
    int sum = 0;
    for (int i = 0; i < 2000; ++i) all.push_back(gh::spawn([&sum, i] {
      gh::sleep(0ms);
      sum += i;
    }));
    gh::joinall(all);
    EXPECT_EQ(sum, 2000 * 1999 / 2);
  }
}

TEST(Greenlet, MainBlockedForeverRaisesLoopExit) {
  auto g = gh::spawn([] {
    gh::WaitList never;
    never.wait();
  });
  EXPECT_THROW(g.join(), gh::LoopExit);
  g.kill(nullptr, false);
  gh::sleep(0ms);
}

namespace {
int recurse(int depth) {
  volatile char buf[1024];
  buf[0] = static_cast<char>(depth);
  return depth <= 0 ? buf[0] : recurse(depth - 1) + buf[0];
}
}  // namespace

TEST(GreenletDeathTest, StackOverflowIsReportedByName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto g = gh::Greenlet<int>([] { return recurse(1 << 20); });
        g.set_name("deep").set_stack_size(64 * 1024).start();
        g.join();
      },
      "stack overflow in greenlet #[0-9]+ \"deep\" \\(stack size 64 KiB\\)");
}

// A greenlet that never waits but calls yield_to_loop() lets the loop fire
// a due timer: after one yield_to_loop() the timer's greenlet is runnable,
// and the next yield runs it. (yield() alone switches straight back to the
// caller while a poll is not due, up to 1,024 times.)
TEST(Greenlet, YieldToLoopRunsDueTimers) {
  bool woke = false;
  auto sleeper = gh::spawn([&] {
    gh::sleep(1ms);
    woke = true;
  });
  gh::sleep(0ms);  // let it start and park on its timer
  const auto due = std::chrono::steady_clock::now() + 3ms;
  while (std::chrono::steady_clock::now() < due) {
  }
  gh::Hub& hub = gh::Hub::current();
  hub.yield_to_loop();
  hub.yield();
  EXPECT_TRUE(woke);
  sleeper.join();
}
