#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "greenhub/greenhub.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

using namespace std::chrono_literals;
namespace gh = greenhub;

namespace {

// Waits greenly (bounded) until `done` holds.
template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    gh::sleep(1ms);
  }
  return true;
}

}  // namespace

TEST(ThreadPool, ReturnsTheValueComputedOnAWorker) {
  gh::ThreadPool pool(2);
  const auto caller = std::this_thread::get_id();
  auto [value, worker] = pool.apply([] {
    return std::make_pair(6 * 7, std::this_thread::get_id());
  });
  EXPECT_EQ(value, 42);
  EXPECT_NE(worker, caller);
}

TEST(ThreadPool, RethrowsTheWorkersException) {
  gh::ThreadPool pool(1);
  try {
    pool.apply([]() -> int { throw std::runtime_error("disk on fire"); });
    FAIL() << "apply did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
  EXPECT_THROW(pool.apply([] { throw 7; }), int);
  // The worker survives its job's exception.
  EXPECT_EQ(pool.apply([] { return 1; }), 1);
  EXPECT_EQ(pool.size(), 1u);
}

TEST(ThreadPool, VoidMoveOnlyAndReferenceResults) {
  gh::ThreadPool pool(1);
  int side_effect = 0;
  pool.apply([&] { side_effect = 5; });
  EXPECT_EQ(side_effect, 5);

  std::unique_ptr<int> p = pool.apply([] { return std::make_unique<int>(9); });
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 9);

  int target = 1;
  int& ref = pool.apply([&]() -> int& { return target; });
  EXPECT_EQ(&ref, &target);

  auto lvalue_fn = [] { return std::string("lvalue callable"); };
  EXPECT_EQ(pool.apply(lvalue_fn), "lvalue callable");
}

TEST(ThreadPool, WorkersAreCreatedLazilyUpToMaxSize) {
  gh::ThreadPool pool(3);
  EXPECT_EQ(pool.max_size(), 3u);
  EXPECT_EQ(pool.size(), 0u);
  pool.apply([] {});
  EXPECT_EQ(pool.size(), 1u);
  pool.apply([] {});  // the idle worker takes it
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_THROW(gh::ThreadPool(0), std::invalid_argument);
}

TEST(ThreadPool, OtherGreenletsRunWhileOneWaits) {
  gh::ThreadPool pool(1);
  int ticks = 0;
  bool stop = false;
  auto ticker = gh::spawn([&] {
    while (!stop) {
      ++ticks;
      gh::sleep(1ms);
    }
  });
  pool.apply([] { std::this_thread::sleep_for(50ms); });  // blocks a worker, not the hub
  stop = true;
  ticker.join();
  EXPECT_GT(ticks, 5);
}

TEST(ThreadPool, ConcurrentApplyFromManyGreenletsIsBoundedByPoolSize) {
  constexpr size_t kPoolSize = 4;
  constexpr int kGreenlets = 24;
  gh::ThreadPool pool(kPoolSize);
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::vector<gh::Greenlet<int>> greenlets;
  for (int i = 0; i < kGreenlets; ++i) {
    greenlets.push_back(gh::spawn([&, i] {
      return pool.apply([&, i] {
        int now = running.fetch_add(1) + 1;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(10ms);
        running.fetch_sub(1);
        return i * i;
      });
    }));
  }
  std::vector<gh::AnyGreenlet> all(greenlets.begin(), greenlets.end());
  EXPECT_EQ(gh::joinall(all, 30s).size(), all.size());
  for (int i = 0; i < kGreenlets; ++i) EXPECT_EQ(greenlets[i].get(), i * i);
  EXPECT_EQ(max_running.load(), static_cast<int>(kPoolSize));  // overlapped, never beyond
  EXPECT_EQ(pool.size(), kPoolSize);
}

TEST(ThreadPool, KilledWaiterLeavesTheJobToFinishSafely) {
  gh::ThreadPool pool(1);
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  bool after_apply = false;
  auto waiter = gh::spawn([&] {
    std::string result = pool.apply([&] {
      started = true;
      while (!release) std::this_thread::sleep_for(1ms);
      finished = true;
      return std::string(1000, 'x');  // discarded: nobody waits any more
    });
    after_apply = true;
  });
  ASSERT_TRUE(wait_until([&] { return started.load(); }));
  waiter.kill();
  EXPECT_TRUE(waiter.ready());
  EXPECT_TRUE(waiter.killed());
  EXPECT_FALSE(after_apply);
  EXPECT_FALSE(finished);
  release = true;
  ASSERT_TRUE(wait_until([&] { return finished.load(); }));
  // The worker is free again and the pool still works.
  EXPECT_EQ(pool.apply([] { return 3; }), 3);
}

TEST(ThreadPool, TimeoutInterruptsTheWaitNotTheJob) {
  gh::ThreadPool pool(1);
  std::atomic<bool> finished{false};
  EXPECT_THROW(
      {
        gh::Timeout timeout(20ms);
        pool.apply([&] {
          std::this_thread::sleep_for(100ms);
          finished = true;
        });
      },
      gh::Timeout);
  EXPECT_FALSE(finished);  // the wait ended first
  ASSERT_TRUE(wait_until([&] { return finished.load(); }));
}

TEST(ThreadPool, AKillPendingAtApplyDoesNotRunTheJob) {
  gh::ThreadPool pool(1);
  std::atomic<int> runs{0};
  gh::WaitList gate;
  auto g = gh::spawn([&] {
    gate.wait();                    // woken normally, then killed while runnable:
    pool.apply([&] { ++runs; });    // the kill is raised here, before submitting
  });
  gh::sleep(0ms);  // g parks on the gate
  ASSERT_EQ(gate.size(), 1u);
  gate.wake_one();
  g.kill(nullptr, /*block=*/false);
  g.join();
  EXPECT_TRUE(g.killed());
  EXPECT_EQ(runs.load(), 0);
  EXPECT_EQ(pool.size(), 0u);
}

TEST(ThreadPool, WorksOnAThreadWithoutAHubYet) {
  gh::ThreadPool pool(2);
  int value = 0;
  std::thread t([&] {
    // No greenlet was ever spawned here: the main greenlet parks on a fresh hub.
    EXPECT_EQ(gh::Hub::current_if_exists(), nullptr);
    value = pool.apply([] { return 11; });
  });
  t.join();
  EXPECT_EQ(value, 11);
}

TEST(ThreadPool, ManyHubsShareOnePool) {
  gh::ThreadPool pool(3);
  std::atomic<int> sum{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<gh::AnyGreenlet> gs;
      for (int i = 0; i < 10; ++i) {
        gs.push_back(gh::spawn([&, t, i] { sum += pool.apply([t, i] { return t * 100 + i; }); }));
      }
      gh::joinall(gs);
    });
  }
  for (auto& th : threads) th.join();
  int expected = 0;
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 10; ++i) expected += t * 100 + i;
  EXPECT_EQ(sum.load(), expected);
}

TEST(ThreadPool, ThreadExitWithAGreenletStillWaitingIsSafe) {
  // A thread returns while one of its greenlets waits on a job: its hub is
  // destroyed without unwinding that greenlet. The worker finishing later
  // must not wake the freed greenlet (ASan checks this).
  gh::ThreadPool pool(1);
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  std::thread t([&] {
#if defined(__SANITIZE_ADDRESS__)
    // What the discarded greenlet's stack owned is leaked by design.
    __lsan::ScopedDisabler leaks_expected;
#endif
    gh::spawn([&] {
      pool.apply([&] {
        started = true;
        while (!release) std::this_thread::sleep_for(1ms);
        finished = true;
      });
    });
    while (!started) gh::sleep(1ms);
  });
  t.join();
  release = true;
  for (int i = 0; i < 5000 && !finished; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(finished);
}

TEST(ThreadPool, ApplyOnAWorkerRunsInline) {
  gh::ThreadPool pool(1);  // a nested job queued behind its parent would deadlock
  auto [outer, inner, inner_has_hub] = pool.apply([&] {
    auto [id, has_hub] = pool.apply([] {
      return std::make_pair(std::this_thread::get_id(), gh::Hub::current_if_exists() != nullptr);
    });
    return std::make_tuple(std::this_thread::get_id(), id, has_hub);
  });
  EXPECT_EQ(outer, inner);
  EXPECT_FALSE(inner_has_hub);  // no hub was created on the worker
  EXPECT_EQ(pool.size(), 1u);
}

TEST(ThreadPool, DefaultPoolSizeFromTheEnvironment) {
  std::string error;
  EXPECT_EQ(gh::detail::parse_threadpool_size("16", &error), 16u);
  EXPECT_EQ(gh::detail::parse_threadpool_size("1", &error), 1u);
  for (const char* bad : {"0", "-3", "ten", "4x", "", "1025", "99999999999999999999"}) {
    error.clear();
    EXPECT_EQ(gh::detail::parse_threadpool_size(bad, &error), 0u) << bad;
    EXPECT_NE(error.find("GREENHUB_THREADPOOL_SIZE"), std::string::npos) << bad;
  }
  gh::ThreadPool& pool = gh::ThreadPool::default_pool();
  EXPECT_EQ(&pool, &gh::ThreadPool::default_pool());
  EXPECT_GE(pool.max_size(), 1u);
  EXPECT_FALSE(gh::ThreadPool::on_worker_thread());
  EXPECT_TRUE(pool.apply([] { return gh::ThreadPool::on_worker_thread(); }));
}
