#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Semaphore, CountsPermits) {
  gh::Semaphore sem(2);
  EXPECT_EQ(sem.counter(), 2);
  EXPECT_FALSE(sem.locked());
  EXPECT_TRUE(sem.acquire());
  EXPECT_TRUE(sem.acquire());
  EXPECT_EQ(sem.counter(), 0);
  EXPECT_TRUE(sem.locked());
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_FALSE(sem.try_lock());
  sem.release();
  EXPECT_EQ(sem.counter(), 1);
  sem.release();
  sem.release();  // an unbounded Semaphore may grow past its start
  EXPECT_EQ(sem.counter(), 3);
}

TEST(Semaphore, NegativeInitialValueIsRejected) {
  EXPECT_THROW(gh::Semaphore(-1), std::invalid_argument);
  EXPECT_THROW(gh::BoundedSemaphore(-1), std::invalid_argument);
}

TEST(Semaphore, LimitsConcurrency) {
  gh::Semaphore sem(2);
  int running = 0;
  int most = 0;
  std::vector<gh::AnyGreenlet> workers;
  for (int i = 0; i < 6; ++i) {
    workers.push_back(gh::spawn([&] {
      std::lock_guard guard(sem);
      most = std::max(most, ++running);
      gh::sleep(1ms);
      --running;
    }));
  }
  gh::joinall(workers);
  EXPECT_EQ(most, 2);
  EXPECT_EQ(sem.counter(), 2);
}

TEST(Semaphore, WaitersAcquireInFifoOrder) {
  gh::Semaphore sem(0);
  std::vector<std::string> order;
  std::vector<gh::AnyGreenlet> waiters;
  for (const char* name : {"a", "b", "c"}) {
    waiters.push_back(gh::spawn([&, name] {
      sem.acquire();
      order.push_back(name);
    }));
  }
  gh::sleep(0ms);
  for (int i = 0; i < 3; ++i) sem.release();
  gh::joinall(waiters);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(sem.counter(), 0);
}

TEST(Semaphore, ReleaseHandsThePermitToTheWaiterSoALaterCallerCannotOvertake) {
  gh::Semaphore sem(0);
  auto waiter = gh::spawn([&] { return sem.acquire(); });
  gh::sleep(0ms);
  sem.release();
  EXPECT_EQ(sem.counter(), 0);
  EXPECT_FALSE(sem.acquire(false));  // the waiter has not run yet, but it owns the permit
  EXPECT_TRUE(waiter.get());
  EXPECT_EQ(sem.counter(), 0);
}

TEST(Semaphore, AcquireTimesOutWithoutTakingAPermit) {
  gh::Semaphore sem(0);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(sem.acquire(true, 5ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 5ms);
  sem.release();
  EXPECT_EQ(sem.counter(), 1);
}

TEST(Semaphore, KilledWaiterLeavesTheQueueAndTakesNoPermit) {
  gh::Semaphore sem(0);
  bool acquired = false;
  auto killed = gh::spawn([&] { acquired = sem.acquire(); });
  auto timed_out = gh::spawn([&] {
    gh::Timeout timeout(2ms);
    sem.acquire();
  });
  gh::sleep(0ms);
  killed.kill();
  timed_out.join();
  EXPECT_TRUE(killed.killed());
  EXPECT_NE(timed_out.exception(), nullptr);
  EXPECT_FALSE(acquired);
  // Had either stayed queued, this release would have gone to it.
  sem.release();
  EXPECT_EQ(sem.counter(), 1);
}

TEST(Semaphore, WaitWaitsForAPermitWithoutTakingIt) {
  gh::Semaphore sem(0);
  auto waiter = gh::spawn([&] { return sem.wait(); });
  gh::sleep(0ms);
  EXPECT_FALSE(waiter.ready());
  sem.release();
  EXPECT_EQ(waiter.get(), 1);
  EXPECT_EQ(sem.counter(), 1);
  EXPECT_EQ(sem.wait(0ms), 1);
  sem.acquire();
  EXPECT_EQ(sem.wait(2ms), 0);  // timed out
}

TEST(Semaphore, AcquirersAreServedBeforePlainWaiters) {
  gh::Semaphore sem(0);
  auto waiter = gh::spawn([&] { return sem.wait(5ms); });
  auto acquirer = gh::spawn([&] { return sem.acquire(); });
  gh::sleep(0ms);
  sem.release();  // goes to the acquirer
  EXPECT_TRUE(acquirer.get());
  EXPECT_EQ(waiter.get(), 0);
}

TEST(BoundedSemaphore, ReleaseAboveTheInitialValueThrowsAndChangesNothing) {
  gh::BoundedSemaphore sem(2);
  EXPECT_THROW(sem.release(), std::logic_error);
  EXPECT_EQ(sem.counter(), 2);
  sem.acquire();
  sem.release();
  EXPECT_THROW(sem.release(), std::logic_error);
  EXPECT_EQ(sem.counter(), 2);
}

TEST(BoundedSemaphore, ReleaseToAWaiterIsAllowed) {
  gh::BoundedSemaphore sem(1);
  sem.acquire();
  auto waiter = gh::spawn([&] { return sem.acquire(); });
  gh::sleep(0ms);
  sem.release();
  EXPECT_TRUE(waiter.get());
  EXPECT_EQ(sem.counter(), 0);
  sem.release();
  EXPECT_EQ(sem.counter(), 1);
  EXPECT_THROW(sem.release(), std::logic_error);
}
