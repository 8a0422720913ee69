#include <gtest/gtest.h>

#include <deque>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Condition, WaitAndNotifyWithoutTheLockThrow) {
  gh::Lock lock;
  gh::Condition cond(lock);
  EXPECT_THROW(cond.wait(1ms), std::logic_error);
  EXPECT_THROW(cond.notify(), std::logic_error);
  EXPECT_THROW(cond.notify_all(), std::logic_error);
  gh::Condition own;  // over its own RLock, owned per greenlet
  own.acquire();
  auto other = gh::spawn([&] { own.notify(); });
  other.join();
  EXPECT_NE(other.exception(), nullptr);
  own.release();
}

TEST(Condition, NotifyWakesTheOldestWaitersWhichReturnHoldingTheLock) {
  gh::Lock lock;
  gh::Condition cond(lock);
  std::vector<int> woken;
  std::vector<gh::AnyGreenlet> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(gh::spawn([&, i] {
      std::lock_guard guard(cond);
      EXPECT_TRUE(cond.wait());
      EXPECT_TRUE(lock.locked());
      woken.push_back(i);
    }));
  }
  gh::sleep(0ms);
  EXPECT_FALSE(lock.locked());  // every waiter released it
  {
    std::lock_guard guard(lock);
    cond.notify(2);
  }
  gh::sleep(1ms);
  EXPECT_EQ(woken, (std::vector<int>{0, 1}));
  {
    std::lock_guard guard(lock);
    cond.notify_all();
  }
  gh::joinall(waiters);
  EXPECT_EQ(woken, (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, WaitTimesOutHoldingTheLockAgain) {
  gh::Lock lock;
  gh::Condition cond(lock);
  std::lock_guard guard(lock);
  EXPECT_FALSE(cond.wait(2ms));
  EXPECT_TRUE(lock.locked());
}

TEST(Condition, WaitForAPredicate) {
  gh::Lock lock;
  gh::Condition cond(lock);
  std::deque<int> items;
  auto consumer = gh::spawn([&] {
    std::vector<int> got;
    std::lock_guard guard(cond);
    while (got.size() < 5) {
      EXPECT_TRUE(cond.wait_for([&] { return !items.empty(); }));
      got.push_back(items.front());
      items.pop_front();
    }
    return got;
  });
  for (int i = 0; i < 5; ++i) {
    gh::sleep(0ms);
    std::lock_guard guard(cond);
    items.push_back(i);
    cond.notify();
  }
  EXPECT_EQ(consumer.get(), (std::vector<int>{0, 1, 2, 3, 4}));
  std::lock_guard guard(cond);
  EXPECT_FALSE(cond.wait_for([] { return false; }, 2ms));
  EXPECT_TRUE(cond.wait_for([] { return true; }, 0ms));
}

TEST(Condition, AnRLockIsTakenBackAtTheSameLevel) {
  gh::RLock lock;
  gh::Condition cond(lock);
  auto waiter = gh::spawn([&] {
    lock.acquire();
    lock.acquire();
    cond.wait();
    const int level = lock.count();
    const bool owned = lock.is_owned();
    lock.release();
    lock.release();
    return std::make_pair(level, owned);
  });
  gh::sleep(0ms);
  EXPECT_FALSE(lock.locked());  // released at every level while waiting
  {
    std::lock_guard guard(lock);
    cond.notify();
  }
  auto [level, owned] = waiter.get();
  EXPECT_EQ(level, 2);
  EXPECT_TRUE(owned);
  EXPECT_FALSE(lock.locked());
}

TEST(Condition, AKilledWaiterTakesTheLockBackBeforeTheKillPropagates) {
  gh::RLock lock;
  gh::Condition cond(lock);
  bool held_while_unwinding = false;
  auto waiter = gh::spawn([&] {
    std::lock_guard guard(lock);  // its unlock must find the lock owned
    struct Check {
      gh::RLock& lock;
      bool& held;
      ~Check() { held = lock.is_owned(); }
    } check{lock, held_while_unwinding};
    cond.wait();
  });
  gh::sleep(0ms);
  lock.acquire();  // the waiter cannot take it back yet
  waiter.kill(nullptr, /*block=*/false);
  gh::sleep(1ms);
  EXPECT_FALSE(waiter.ready());
  lock.release();
  waiter.join();
  EXPECT_TRUE(waiter.killed());
  EXPECT_TRUE(held_while_unwinding);
  EXPECT_FALSE(lock.locked());
  // It left the condition: a notify now has nobody to wake and is harmless.
  std::lock_guard guard(lock);
  cond.notify_all();
}

TEST(Condition, ATimeoutWhileWaitingAlsoRestoresTheLock) {
  gh::Lock lock;
  gh::Condition cond(lock);
  std::lock_guard guard(lock);
  EXPECT_THROW(
      {
        gh::Timeout timeout(2ms);
        cond.wait();
      },
      gh::Timeout);
  EXPECT_TRUE(lock.locked());
}
