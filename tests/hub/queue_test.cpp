#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Queue, IsFirstInFirstOut) {
  gh::Queue<int> q;
  for (int i = 0; i < 5; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 5u);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());  // unbounded
  EXPECT_EQ(q.maxsize(), 0u);
  EXPECT_EQ(q.peek(), 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.get(), i);
  EXPECT_TRUE(q.empty());
}

TEST(Queue, NonBlockingAndTimedOutCallsThrowEmptyAndFull) {
  gh::Queue<int> q(1);
  EXPECT_THROW(q.get(false), gh::QueueEmpty);
  EXPECT_THROW(q.get_nowait(), gh::QueueEmpty);
  EXPECT_THROW(q.peek(false), gh::QueueEmpty);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get(true, 3ms), gh::QueueEmpty);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 3ms);
  EXPECT_THROW(q.peek(true, 1ms), gh::QueueEmpty);
  q.put_nowait(1);
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put(2, false), gh::QueueFull);
  EXPECT_THROW(q.put_nowait(2), gh::QueueFull);
  EXPECT_THROW(q.put(2, true, 2ms), gh::QueueFull);
  EXPECT_EQ(q.qsize(), 1u);  // the refused items were not added
  EXPECT_EQ(q.get(), 1);
}

TEST(Queue, GetWaitsForAPut) {
  gh::Queue<std::string> q;
  auto getter = gh::spawn([&] { return q.get(); });
  gh::sleep(1ms);
  EXPECT_FALSE(getter.ready());
  q.put("hello");
  EXPECT_EQ(getter.get(), "hello");
  EXPECT_TRUE(q.empty());
}

TEST(Queue, PutWaitsWhileFullAndKeepsTheOrder) {
  gh::Queue<int> q(2);
  auto producer = gh::spawn([&] {
    for (int i = 0; i < 6; ++i) q.put(i);
  });
  gh::sleep(1ms);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_FALSE(producer.ready());
  std::vector<int> got;
  for (int i = 0; i < 6; ++i) {
    got.push_back(q.get());
    EXPECT_LE(q.qsize(), 2u);
  }
  producer.join();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(Queue, WaitingGettersAreServedInFifoOrder) {
  gh::Queue<int> q;
  std::vector<std::pair<int, int>> got;
  std::vector<gh::AnyGreenlet> getters;
  for (int i = 0; i < 3; ++i) {
    getters.push_back(gh::spawn([&, i] { got.emplace_back(i, q.get()); }));
  }
  gh::sleep(0ms);
  for (int i = 10; i < 13; ++i) q.put(i);
  gh::joinall(getters);
  EXPECT_EQ(got, (std::vector<std::pair<int, int>>{{0, 10}, {1, 11}, {2, 12}}));
}

TEST(Queue, APutItemGoesToTheWaitingGetterNotToALaterCaller) {
  gh::Queue<int> q;
  auto getter = gh::spawn([&] { return q.get(); });
  gh::sleep(0ms);
  q.put(42);
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get_nowait(), gh::QueueEmpty);
  EXPECT_EQ(getter.get(), 42);
}

TEST(Queue, WaitingPutterIsServedBeforeALaterPutter) {
  gh::Queue<int> q(1);
  q.put(1);
  auto putter = gh::spawn([&] { q.put(2); });
  gh::sleep(0ms);
  EXPECT_EQ(q.get(), 1);
  // The waiting putter's item took the freed place already.
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(3), gh::QueueFull);
  EXPECT_EQ(q.get(), 2);
  putter.join();
}

TEST(Queue, KilledOrTimedOutGetterDoesNotSwallowAnItem) {
  gh::Queue<int> q;
  auto killed = gh::spawn([&] { return q.get(); });
  auto timed_out = gh::spawn([&] {
    gh::Timeout timeout(2ms);
    return q.get();
  });
  gh::sleep(0ms);
  killed.kill();
  timed_out.join();
  EXPECT_TRUE(killed.killed());
  EXPECT_NE(timed_out.exception(), nullptr);
  q.put(7);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get(), 7);
}

TEST(Queue, KilledPutterDoesNotAddItsItem) {
  gh::Queue<int> q(1);
  q.put(1);
  auto killed = gh::spawn([&] { q.put(2); });
  gh::sleep(0ms);
  killed.kill();
  EXPECT_EQ(q.get(), 1);
  EXPECT_TRUE(q.empty());
}

TEST(Queue, PeekWaitsForAnItemAndLeavesIt) {
  gh::Queue<int> q;
  auto peeker = gh::spawn([&] { return q.peek(); });
  gh::sleep(0ms);
  q.put(5);
  EXPECT_EQ(peeker.get(), 5);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.peek_nowait(), 5);
}

TEST(Queue, JoinWaitsForEveryTaskDone) {
  gh::Queue<int> q;
  std::vector<int> processed;
  auto worker = gh::spawn([&] {
    for (;;) {
      int item = q.get();
      gh::sleep(1ms);
      processed.push_back(item);
      q.task_done();
    }
  });
  for (int i = 0; i < 4; ++i) q.put(i);
  EXPECT_EQ(q.unfinished_tasks(), 4u);
  EXPECT_FALSE(q.join(0ms));
  EXPECT_TRUE(q.join(1s));
  EXPECT_EQ(processed, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_TRUE(q.join());
  worker.kill();
}

TEST(Queue, TaskDoneTooManyTimesThrows) {
  gh::Queue<int> q;
  EXPECT_THROW(q.task_done(), std::logic_error);
  q.put(1);
  q.get();
  q.task_done();
  EXPECT_THROW(q.task_done(), std::logic_error);
}

TEST(Queue, JoinDoesNotReturnWhileAHandedOverPutterItemIsQueued) {
  gh::Queue<int> q(1);
  q.put(1);
  auto putter = gh::spawn([&] { q.put(2); });
  gh::sleep(0ms);
  EXPECT_EQ(q.get(), 1);  // moves item 2 in
  q.task_done();
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_FALSE(q.join(1ms));
  EXPECT_EQ(q.get(), 2);
  q.task_done();
  EXPECT_TRUE(q.join(0ms));
  putter.join();
}

TEST(Queue, HoldsMoveOnlyItems) {
  gh::Queue<std::unique_ptr<int>> q(1);
  auto getter = gh::spawn([&] { return *q.get(); });
  gh::sleep(0ms);
  q.put(std::make_unique<int>(1));  // handed to the getter
  q.put(std::make_unique<int>(2));  // queued
  EXPECT_EQ(getter.get(), 1);
  EXPECT_EQ(*q.get(), 2);
}
