#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

namespace {

// Greenlets of this hub other than the main greenlet.
size_t other_live_greenlets() { return gh::Hub::current().live_greenlets().size() - 1; }

struct SetOnExit {
  bool& flag;
  ~SetOnExit() { flag = true; }
};

// A greenlet that is not an API Greenlet<T> (like the preload's green
// threads): shutdown must end it too.
class BareGreenlet final : public gh::GreenletBase {
 public:
  bool unwound = false;
  bool ended = false;

 protected:
  void run() override {
    SetOnExit on_exit{unwound};
    gh::sleep(10s);
  }
  void finished(std::exception_ptr) override { ended = true; }
};

}  // namespace

TEST(Shutdown, KillsEverySleeperAndWaitsForThem) {
  constexpr int kSleepers = 5;
  bool unwound[kSleepers] = {};
  std::vector<gh::AnyGreenlet> sleepers;
  for (int i = 0; i < kSleepers; ++i) {
    sleepers.push_back(gh::spawn([&unwound, i] {
      SetOnExit on_exit{unwound[i]};
      gh::sleep(10s);
    }));
  }
  auto not_yet_run = gh::spawn([] { gh::sleep(10s); });  // started, never ran
  gh::sleep(0ms);  // the sleepers park (not_yet_run too: it is in the queue)
  auto start = std::chrono::steady_clock::now();
  gh::shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // not the 10 s sleeps
  for (int i = 0; i < kSleepers; ++i) {
    EXPECT_TRUE(sleepers[i]->ready());
    EXPECT_TRUE(sleepers[i]->killed());
    EXPECT_TRUE(unwound[i]) << "greenlet " << i << " was not unwound";
  }
  EXPECT_TRUE(not_yet_run.killed());
  EXPECT_EQ(other_live_greenlets(), 0u);
}

TEST(Shutdown, SparesTheCallerAndMainReturnsFromJoin) {
  auto sleeper = gh::spawn([] { gh::sleep(10s); });
  bool caller_went_on = false;
  auto caller = gh::spawn([&] {
    gh::sleep(1ms);
    gh::shutdown();  // from a greenlet that is not main
    caller_went_on = true;
    return 7;
  });
  // The main greenlet is parked in join() on a greenlet that shutdown kills:
  // join returns normally, nothing is raised in main.
  EXPECT_TRUE(sleeper.join(5s));
  EXPECT_TRUE(sleeper.killed());
  EXPECT_EQ(caller.get(), 7);
  EXPECT_TRUE(caller_went_on);
  EXPECT_EQ(other_live_greenlets(), 0u);
}

TEST(Shutdown, CancelsTheHubsSignalHandlers) {
  auto handler = gh::signal_handler(SIGUSR1, [] {});
  ASSERT_TRUE(handler.active());
  gh::shutdown();
  EXPECT_FALSE(handler.active());
}

TEST(Shutdown, ThroughASignalHandlerEndsAForeverSleeper) {
  gh::signal_handler(SIGQUIT, gh::shutdown);
  auto forever = gh::spawn([] {
    for (;;) gh::sleep(1000s);
  });
  gh::spawn([] {
    gh::sleep(2ms);
    kill(getpid(), SIGQUIT);
  });
  EXPECT_TRUE(forever.join(5s));
  EXPECT_TRUE(forever.killed());
  // main resumed first (it joined `forever`); the handler greenlet that ran
  // shutdown() finishes right after.
  for (int i = 0; i < 100 && other_live_greenlets() != 0; ++i) gh::sleep(1ms);
  EXPECT_EQ(other_live_greenlets(), 0u);
  // shutdown cancelled the SIGQUIT handler: the default is back.
  struct sigaction current;
  ASSERT_EQ(sigaction(SIGQUIT, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST(Shutdown, KillsGreenletsSpawnedWhileOthersUnwind) {
  auto first = gh::spawn([] { gh::sleep(10s); });
  bool late_unwound = false;
  first.link([&late_unwound](gh::Greenlet<>) {
    SetOnExit on_exit{late_unwound};
    gh::sleep(10s);  // born during shutdown, from first's death
  });
  gh::sleep(0ms);
  gh::shutdown();
  EXPECT_TRUE(first.killed());
  EXPECT_TRUE(late_unwound);
  EXPECT_EQ(other_live_greenlets(), 0u);
}

TEST(Shutdown, EndsGreenletsThatAreNotApiGreenlets) {
  auto bare = std::make_shared<BareGreenlet>();
  bare->start();
  gh::sleep(0ms);
  gh::shutdown();
  EXPECT_TRUE(bare->dead());
  EXPECT_TRUE(bare->ended);
  EXPECT_TRUE(bare->unwound);
}

TEST(Shutdown, KillsAGreenletWaitingOnTheThreadPool) {
  gh::ThreadPool pool(1);
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  auto waiter = gh::spawn([&] {
    pool.apply([&] {
      started = true;
      while (!release) std::this_thread::sleep_for(1ms);
    });
  });
  while (!started) gh::sleep(1ms);
  gh::shutdown();
  EXPECT_TRUE(waiter.killed());
  release = true;  // the pool's destructor then joins the finished worker
}
