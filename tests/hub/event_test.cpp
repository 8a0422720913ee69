#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Event, SetWakesEveryWaiterInTheOrderTheyWaited) {
  gh::Event event;
  std::vector<int> woken;
  std::vector<gh::AnyGreenlet> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(gh::spawn([&, i] {
      EXPECT_TRUE(event.wait());
      woken.push_back(i);
    }));
  }
  gh::sleep(0ms);
  EXPECT_TRUE(woken.empty());
  EXPECT_FALSE(event.is_set());
  event.set();
  EXPECT_TRUE(event.is_set());
  EXPECT_TRUE(event.ready());
  gh::joinall(waiters);
  EXPECT_EQ(woken, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Event, WaitReturnsAtOnceWhenSetAndBlocksAgainAfterClear) {
  gh::Event event;
  event.set();
  EXPECT_TRUE(event.wait());
  EXPECT_TRUE(event.wait(0ms));
  event.clear();
  EXPECT_FALSE(event.is_set());
  EXPECT_FALSE(event.wait(0ms));
}

TEST(Event, WaitTimesOut) {
  gh::Event event;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(5ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
}

TEST(Event, AWaiterWokenBySetReturnsTrueEvenIfClearedBeforeItRuns) {
  gh::Event event;
  auto waiter = gh::spawn([&] { return event.wait(1s); });
  gh::sleep(0ms);
  event.set();
  event.clear();
  EXPECT_TRUE(waiter.get());
}

TEST(Event, SetFromAnotherGreenletWakesMain) {
  gh::Event event;
  auto setter = gh::spawn([&] {
    gh::sleep(2ms);
    event.set();
  });
  EXPECT_TRUE(event.wait(1s));
  setter.join();
}

TEST(Event, KilledAndTimedOutWaitersLeaveTheEvent) {
  gh::Event event;
  auto killed = gh::spawn([&] { event.wait(); });
  auto timed_out = gh::spawn([&] {
    gh::Timeout timeout(2ms);
    event.wait();
  });
  auto stays = gh::spawn([&] { return event.wait(); });
  gh::sleep(0ms);
  killed.kill();
  EXPECT_TRUE(killed.killed());
  timed_out.join();
  ASSERT_NE(timed_out.exception(), nullptr);
  EXPECT_THROW(std::rethrow_exception(timed_out.exception()), gh::Timeout);
  EXPECT_FALSE(stays.ready());
  event.set();
  EXPECT_TRUE(stays.get());
}

TEST(Event, MainWaitingForAnEventNobodyCanSetRaisesLoopExit) {
  gh::Event event;
  EXPECT_THROW(event.wait(), gh::LoopExit);
}
