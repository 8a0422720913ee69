#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Lock, ExcludesAndServesWaitersInFifoOrder) {
  gh::Lock lock;
  std::vector<std::string> log;
  auto worker = [&](std::string name) {
    std::lock_guard guard(lock);
    log.push_back(name + "+");
    gh::sleep(1ms);
    log.push_back(name + "-");
  };
  auto a = gh::spawn(worker, "a");
  auto b = gh::spawn(worker, "b");
  auto c = gh::spawn(worker, "c");
  gh::joinall({a, b, c});
  EXPECT_EQ(log, (std::vector<std::string>{"a+", "a-", "b+", "b-", "c+", "c-"}));
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, ReleaseOfAnUnlockedLockThrows) {
  gh::Lock lock;
  EXPECT_THROW(lock.release(), std::logic_error);
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, AnyGreenletMayReleaseIt) {
  gh::Lock lock;
  lock.acquire();
  gh::spawn([&] { lock.release(); }).join();
  EXPECT_FALSE(lock.locked());
}

TEST(Lock, AcquireTimesOutAndNonBlockingFails) {
  gh::Lock lock;
  lock.acquire();
  auto other = gh::spawn([&] { return std::make_pair(lock.acquire(false), lock.acquire(true, 2ms)); });
  auto [nonblocking, timed] = other.get();
  EXPECT_FALSE(nonblocking);
  EXPECT_FALSE(timed);
  lock.release();
}

TEST(Lock, KilledWaiterDoesNotGetTheLock) {
  gh::Lock lock;
  lock.acquire();
  auto killed = gh::spawn([&] { lock.acquire(); });
  gh::sleep(0ms);
  killed.kill();
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(RLock, IsReentrantForItsOwner) {
  gh::RLock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.acquire(false));
  EXPECT_EQ(lock.count(), 3);
  EXPECT_TRUE(lock.is_owned());
  auto other = gh::spawn([&] { return std::make_pair(lock.is_owned(), lock.acquire(false)); });
  auto [owned_by_other, taken_by_other] = other.get();
  EXPECT_FALSE(owned_by_other);
  EXPECT_FALSE(taken_by_other);
  lock.release();
  lock.release();
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.count(), 0);
}

TEST(RLock, AnotherGreenletWaitsUntilTheLastRelease) {
  gh::RLock lock;
  lock.acquire();
  lock.acquire();
  auto other = gh::spawn([&] {
    std::lock_guard guard(lock);
    return lock.count();
  });
  gh::sleep(1ms);
  EXPECT_FALSE(other.ready());
  lock.release();
  gh::sleep(1ms);
  EXPECT_FALSE(other.ready());
  lock.release();
  EXPECT_EQ(other.get(), 1);
  EXPECT_FALSE(lock.locked());
}

TEST(RLock, ReleaseByANonOwnerThrowsAndLeavesItHeld) {
  gh::RLock lock;
  EXPECT_THROW(lock.release(), std::logic_error);  // nobody owns it
  lock.acquire();
  auto thief = gh::spawn([&] { lock.release(); });
  thief.join();
  ASSERT_NE(thief.exception(), nullptr);
  EXPECT_THROW(std::rethrow_exception(thief.exception()), std::logic_error);
  EXPECT_TRUE(lock.locked());
  EXPECT_TRUE(lock.is_owned());
  EXPECT_EQ(lock.count(), 1);
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(RLock, WaitersAreServedInFifoOrder) {
  gh::RLock lock;
  lock.acquire();
  std::vector<int> order;
  std::vector<gh::AnyGreenlet> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(gh::spawn([&, i] {
      std::lock_guard guard(lock);
      order.push_back(i);
      gh::sleep(0ms);
    }));
  }
  gh::sleep(0ms);
  lock.release();
  gh::joinall(waiters);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(RLock, TimedOutWaiterLeavesTheQueue) {
  gh::RLock lock;
  lock.acquire();
  auto waiter = gh::spawn([&] {
    gh::Timeout timeout(2ms);
    lock.acquire();
  });
  waiter.join();
  EXPECT_NE(waiter.exception(), nullptr);
  lock.release();
  EXPECT_FALSE(lock.locked());  // the release did not go to the gone waiter
}
