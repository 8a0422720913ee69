#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(WaiterQueue, GrantsInFifoOrderAndHandsOverTheSlot) {
  gh::WaiterQueue queue;
  std::vector<std::string> got;
  auto waiter = [&](std::string name) {
    std::string slot;
    EXPECT_TRUE(queue.wait(gh::WaitDeadline::never(), &slot));
    got.push_back(name + "=" + slot);
  };
  auto a = gh::spawn(waiter, "a");
  auto b = gh::spawn(waiter, "b");
  gh::sleep(0ms);
  ASSERT_EQ(queue.size(), 2u);
  // Grant b's slot first from the front: the front is a.
  *static_cast<std::string*>(queue.grant_one()->slot) = "1";
  *static_cast<std::string*>(queue.grant_one()->slot) = "2";
  EXPECT_EQ(queue.grant_one(), nullptr);
  EXPECT_TRUE(queue.empty());
  gh::joinall({a, b});
  EXPECT_EQ(got, (std::vector<std::string>{"a=1", "b=2"}));
}

TEST(WaiterQueue, TimedOutWaiterUnlinksItself) {
  gh::WaiterQueue queue;
  EXPECT_FALSE(queue.wait(gh::WaitDeadline(2ms)));
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_FALSE(queue.wait(gh::WaitDeadline(0ms)));  // expired: no park at all
  EXPECT_EQ(queue.grant_one(), nullptr);
}

TEST(WaiterQueue, GrantSkipsAWaiterThatWasKilledButHasNotRunYet) {
  gh::WaiterQueue queue;
  bool granted = false;
  auto killed = gh::spawn([&] { granted = queue.wait(gh::WaitDeadline::never()); });
  bool second_granted = false;
  auto second = gh::spawn([&] { second_granted = queue.wait(gh::WaitDeadline::never()); });
  gh::sleep(0ms);
  ASSERT_EQ(queue.size(), 2u);
  killed.kill(nullptr, /*block=*/false);  // woken, still linked until it runs
  EXPECT_EQ(queue.size(), 2u);
  ASSERT_NE(queue.grant_one(), nullptr);  // skips the killed one: second gets it
  EXPECT_EQ(queue.size(), 0u);
  gh::joinall({killed, second});
  EXPECT_TRUE(killed.killed());
  EXPECT_FALSE(granted);
  EXPECT_TRUE(second_granted);
}

TEST(WaiterQueue, AGrantIsNotLostToAKillThatArrivesAfterIt) {
  gh::WaiterQueue queue;
  bool granted = false;
  bool reached_next_wait = false;
  auto g = gh::spawn([&] {
    granted = queue.wait(gh::WaitDeadline::never());
    reached_next_wait = true;
    gh::sleep(10s);  // the kill is raised here
  });
  gh::sleep(0ms);
  ASSERT_NE(queue.grant_one(), nullptr);
  g.kill();
  EXPECT_TRUE(granted);
  EXPECT_TRUE(reached_next_wait);
  EXPECT_TRUE(g.killed());
}

TEST(WaiterQueue, DestroyedQueueDetachesItsWaiters) {
  auto queue = std::make_unique<gh::WaiterQueue>();
  auto g = gh::spawn([&] { return queue->wait(gh::WaitDeadline(5ms)); });
  gh::sleep(0ms);
  queue.reset();
  EXPECT_FALSE(g.get());  // it times out, touching nothing freed
}

TEST(WaiterQueue, SetsWaitingOnWhileParked) {
  gh::WaiterQueue queue;
  auto g = gh::spawn([&] { queue.wait(gh::WaitDeadline::never(), nullptr, "Test.wait"); });
  gh::sleep(0ms);
  ASSERT_NE(g.state()->waiting_on(), nullptr);
  EXPECT_STREQ(g.state()->waiting_on(), "Test.wait");
  queue.grant_all();
  g.join();
  EXPECT_EQ(g.state()->waiting_on(), nullptr);
}
