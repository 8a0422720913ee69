#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

static_assert(std::input_iterator<gh::IMap<int>::iterator>);
static_assert(std::ranges::input_range<gh::IMap<int>>);

namespace {

int echo(int i) {
  gh::sleep(1ms);
  return i;
}

// Sleeps longer for smaller inputs, so completion order is the reverse of
// input order.
int reverse_sleeper(int i) {
  gh::sleep(std::chrono::milliseconds(2 * (5 - i)));
  return i;
}

}  // namespace

// --- Group ---------------------------------------------------------------

TEST(Group, MembersLeaveWhenTheyFinishAndJoinWaitsForAll) {
  gh::Group group;
  std::vector<int> done;
  auto a = group.spawn([&] {
    gh::sleep(2ms);
    done.push_back(1);
  });
  auto b = group.spawn([&](int x) { return x * 2; }, 21);
  EXPECT_EQ(group.count(), 2u);
  EXPECT_TRUE(group.contains(a));
  EXPECT_FALSE(group.full());
  EXPECT_TRUE(group.join(1s));
  EXPECT_TRUE(group.empty());
  EXPECT_FALSE(group.contains(a));
  EXPECT_EQ(b.get(), 42);
  EXPECT_EQ(done, (std::vector<int>{1}));
}

TEST(Group, AddAndDiscard) {
  gh::Group group;
  auto g = gh::spawn([] { gh::sleep(1s); });
  group.add(g);
  group.add(g);  // adding again does nothing
  EXPECT_EQ(group.count(), 1u);
  group.discard(g);
  EXPECT_TRUE(group.empty());
  EXPECT_TRUE(group.join(0ms));  // g is no longer waited for
  g.kill();
  auto finished = gh::spawn([] {});
  finished.join();
  group.add(finished);  // a dead greenlet leaves at once
  EXPECT_TRUE(group.empty());
}

TEST(Group, StartAddsThenStarts) {
  gh::Group group;
  gh::Greenlet<int> g([] { return 5; });
  group.start(g);
  EXPECT_TRUE(g.started());
  EXPECT_EQ(g.get(), 5);
  EXPECT_TRUE(group.empty());
}

TEST(Group, JoinTimesOutAndKillEndsTheMembers) {
  gh::Group group;
  auto a = group.spawn([] { gh::sleep(10s); });
  auto b = group.spawn([] { gh::sleep(10s); });
  EXPECT_FALSE(group.join(2ms));
  EXPECT_EQ(group.count(), 2u);
  group.kill();
  EXPECT_TRUE(a.killed());
  EXPECT_TRUE(b.killed());
  EXPECT_TRUE(group.empty());
}

TEST(Group, KillFromAMemberSparesItself) {
  gh::Group group;
  auto victim = group.spawn([] { gh::sleep(10s); });
  auto killer = group.spawn([&] {
    gh::sleep(0ms);
    group.kill();
    return group.count();
  });
  EXPECT_EQ(killer.get(), 1u);  // only itself is left
  EXPECT_TRUE(victim.killed());
}

TEST(Group, KilloneKillsOnlyAMember) {
  gh::Group group;
  auto member = group.spawn([] { gh::sleep(10s); });
  auto outsider = gh::spawn([] { gh::sleep(10s); });
  group.killone(outsider);
  EXPECT_FALSE(outsider.ready());
  group.killone(member);
  EXPECT_TRUE(member.killed());
  outsider.kill();
}

TEST(Group, JoinRaiseErrorRethrowsAMembersException) {
  gh::Group group;
  group.spawn([] { gh::sleep(1ms); });
  group.spawn([] { throw std::runtime_error("member failed"); });
  EXPECT_THROW(group.join(std::nullopt, /*raise_error=*/true), std::runtime_error);
  EXPECT_TRUE(group.empty());
}

TEST(Group, MembersOutliveADestroyedGroup) {
  int finished = 0;
  {
    gh::Group group;
    group.spawn([&] {
      gh::sleep(1ms);
      ++finished;
    });
  }
  gh::sleep(3ms);
  EXPECT_EQ(finished, 1);
}

// --- Pool ------------------------------------------------------------------

TEST(Pool, SizeZeroIsRejected) { EXPECT_THROW(gh::Pool(0), std::invalid_argument); }

TEST(Pool, SpawnWaitsWhileThePoolIsFull) {
  gh::Pool pool(2);
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.free_count(), 2u);
  int running = 0;
  int most = 0;
  auto work = [&] {
    most = std::max(most, ++running);
    gh::sleep(2ms);
    --running;
  };
  pool.spawn(work);
  pool.spawn(work);
  EXPECT_TRUE(pool.full());
  EXPECT_EQ(pool.free_count(), 0u);
  auto start = std::chrono::steady_clock::now();
  pool.spawn(work);  // waits for a member to finish
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1ms);
  for (int i = 0; i < 5; ++i) pool.spawn(work);
  EXPECT_TRUE(pool.join(1s));
  EXPECT_EQ(most, 2);
  EXPECT_EQ(pool.free_count(), 2u);
}

TEST(Pool, AddWithoutRoomThrowsTimeout) {
  gh::Pool pool(1);
  auto member = pool.spawn([] { gh::sleep(10s); });
  auto other = gh::spawn([] { gh::sleep(10s); });
  EXPECT_THROW(pool.add(other, /*blocking=*/false), gh::Timeout);
  EXPECT_THROW(pool.add(other, true, 2ms), gh::Timeout);
  EXPECT_FALSE(pool.contains(other));
  pool.discard(member);  // frees its slot
  EXPECT_EQ(pool.free_count(), 1u);
  pool.add(other, false);
  EXPECT_TRUE(pool.contains(other));
  gh::killall({member, other});
  EXPECT_EQ(pool.free_count(), 1u);  // other's slot came back when it died
}

TEST(Pool, WaitAvailable) {
  gh::Pool pool(1);
  pool.spawn([] { gh::sleep(2ms); });
  EXPECT_EQ(pool.wait_available(0ms), 0u);
  EXPECT_EQ(pool.wait_available(1s), 1u);
  EXPECT_EQ(pool.free_count(), 1u);
}

TEST(Pool, ASpawnerKilledWhileWaitingForRoomLeavesNoTrace) {
  gh::Pool pool(1);
  auto member = pool.spawn([] { gh::sleep(10s); });
  bool ran = false;
  auto spawner = gh::spawn([&] { pool.spawn([&] { ran = true; }); });
  gh::sleep(0ms);
  spawner.kill();
  member.kill();
  EXPECT_EQ(pool.free_count(), 1u);
  EXPECT_TRUE(pool.empty());
  gh::sleep(1ms);
  EXPECT_FALSE(ran);
}

TEST(Pool, KillEndsMembersAndFreesTheirSlots) {
  gh::Pool pool(3);
  for (int i = 0; i < 3; ++i) pool.spawn([] { gh::sleep(10s); });
  EXPECT_TRUE(pool.full());
  pool.kill();
  EXPECT_TRUE(pool.empty());
  EXPECT_EQ(pool.free_count(), 3u);
}

// --- map / imap / imap_unordered ---------------------------------------------

TEST(PoolMap, ResultsComeInInputOrder) {
  gh::Pool pool(3);
  EXPECT_EQ(pool.map(reverse_sleeper, std::vector<int>{0, 1, 2, 3, 4}),
            (std::vector<int>{0, 1, 2, 3, 4}));
  gh::Group group;
  auto lengths = group.map([](const std::string& s) { return s.size(); },
                           std::vector<std::string>{"a", "bbb", "cc"});
  EXPECT_EQ(lengths, (std::vector<size_t>{1, 3, 2}));
  EXPECT_TRUE(pool.map(echo, std::vector<int>{}).empty());
}

TEST(PoolMap, AnExceptionReachesTheCaller) {
  gh::Pool pool(2);
  auto fail_on_two = [](int i) {
    gh::sleep(1ms);
    if (i == 2) throw std::runtime_error("two");
    return i;
  };
  EXPECT_THROW(pool.map(fail_on_two, std::views::iota(0, 5)), std::runtime_error);
  pool.join();
}

TEST(PoolImapUnordered, YieldsInCompletionOrder) {
  gh::Pool pool(10);
  std::vector<int> got;
  for (int v : pool.imap_unordered(reverse_sleeper, std::views::iota(0, 5))) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{4, 3, 2, 1, 0}));
}

TEST(PoolImapUnordered, YieldsEachResultAsSoonAsItIsDone) {
  gh::Pool pool(4);
  int finished = 0;
  auto slow_after_first = [&](int i) {
    gh::sleep(i == 0 ? 1ms : 50ms);
    ++finished;
    return i;
  };
  auto results = pool.imap_unordered(slow_after_first, std::views::iota(0, 4));
  auto it = results.begin();
  EXPECT_EQ(*it, 0);
  EXPECT_EQ(finished, 1);  // the others are still running
  std::set<int> rest;
  for (++it; it != results.end(); ++it) rest.insert(*it);
  EXPECT_EQ(rest, (std::set<int>{1, 2, 3}));
}

TEST(PoolImapUnordered, RunsAtMostSizeTasksAtOnce) {
  gh::Pool pool(3);
  int running = 0;
  int most = 0;
  auto task = [&](int i) {
    most = std::max(most, ++running);
    gh::sleep(1ms);
    --running;
    return i;
  };
  std::multiset<int> got;
  for (int v : pool.imap_unordered(task, std::views::iota(0, 12))) got.insert(v);
  EXPECT_EQ(got.size(), 12u);
  EXPECT_EQ(std::set<int>(got.begin(), got.end()).size(), 12u);
  EXPECT_EQ(most, 3);
}

TEST(PoolImapUnordered, AFailedTaskIsRethrownAtItsPlaceAndIterationGoesOn) {
  gh::Pool pool(4);
  auto task = [](int i) {
    gh::sleep(std::chrono::milliseconds(i));
    if (i == 1) throw std::invalid_argument("one");
    return i;
  };
  auto results = pool.imap_unordered(task, std::vector<int>{0, 1, 2});
  EXPECT_EQ(results.next(), 0);
  EXPECT_THROW(results.next(), std::invalid_argument);
  EXPECT_EQ(results.next(), 2);
  EXPECT_EQ(results.next(), std::nullopt);
  EXPECT_EQ(results.next(), std::nullopt);
}

TEST(PoolImapUnordered, AKilledTaskYieldsGreenletExit) {
  gh::Pool pool(2);
  auto results = pool.imap_unordered([](int i) {
    gh::sleep(10s);
    return i;
  }, std::vector<int>{1});
  gh::sleep(0ms);
  gh::sleep(0ms);
  EXPECT_EQ(pool.count(), 1u);
  pool.kill();
  EXPECT_THROW(results.next(), gh::GreenletExit);
  EXPECT_EQ(results.next(), std::nullopt);
}

TEST(PoolImapUnordered, AnEmptyInputEndsAtOnce) {
  gh::Pool pool(2);
  auto results = pool.imap_unordered(echo, std::vector<int>{});
  EXPECT_TRUE(results.begin() == results.end());
}

TEST(PoolImapUnordered, VoidFunctions) {
  gh::Pool pool(2);
  int calls = 0;
  size_t results = 0;
  for ([[maybe_unused]] std::monostate r :
       pool.imap_unordered([&](int) { ++calls; }, std::views::iota(0, 3))) {
    ++results;
  }
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(results, 3u);
}

TEST(PoolImapUnordered, DroppingTheRangeStopsSpawning) {
  gh::Pool pool(2);
  int started = 0;
  {
    auto results = pool.imap_unordered([&](int i) {
      ++started;
      gh::sleep(1ms);
      return i;
    }, std::views::iota(0, 1000));
    auto first = results.next();
    EXPECT_TRUE(first.has_value());
  }
  pool.join();
  gh::sleep(2ms);
  EXPECT_LT(started, 10);
}

TEST(PoolImapUnordered, AnInputThatThrowsEndsTheIterationWithItsException) {
  gh::Pool pool(2);
  struct Boom {};
  auto inputs = std::views::iota(0, 5) | std::views::transform([](int i) {
                  if (i == 3) throw Boom{};
                  return i;
                });
  std::set<int> got;
  auto results = pool.imap_unordered(echo, inputs);
  bool boomed = false;
  for (;;) {
    try {
      auto v = results.next();
      if (!v) break;
      got.insert(*v);
    } catch (const Boom&) {
      boomed = true;
    }
  }
  EXPECT_TRUE(boomed);
  EXPECT_EQ(got, (std::set<int>{0, 1, 2}));
}

TEST(PoolImap, YieldsInInputOrderAsSoonAsThePrefixIsDone) {
  gh::Pool pool(5);
  std::vector<int> finished;
  auto task = [&](int i) {
    gh::sleep(i == 0 ? 1ms : std::chrono::milliseconds(30 * (5 - i)));  // wide gaps: robust under load
    finished.push_back(i);
    return i;
  };
  auto results = pool.imap(task, std::views::iota(0, 5));
  auto it = results.begin();
  EXPECT_EQ(*it, 0);
  EXPECT_EQ(finished, (std::vector<int>{0}));  // not waiting for the rest
  std::vector<int> got{*it};
  for (++it; it != results.end(); ++it) got.push_back(*it);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(finished, (std::vector<int>{0, 4, 3, 2, 1}));
}

TEST(PoolImap, AFailureIsRethrownAtItsInputPosition) {
  gh::Group group;
  auto task = [](int i) {
    gh::sleep(std::chrono::milliseconds(3 - i));
    if (i == 1) throw std::runtime_error("one");
    return i;
  };
  auto results = group.imap(task, std::vector<int>{0, 1, 2});
  EXPECT_EQ(results.next(), 0);
  EXPECT_THROW(results.next(), std::runtime_error);
  EXPECT_EQ(results.next(), 2);
  EXPECT_EQ(results.next(), std::nullopt);
}

// The seed: Pool(10).imap_unordered(echo, 0..9), four times, yields the same
// result every time.
TEST(PoolImapUnordered, SeedFourRunsYieldTheSameResult) {
  gh::Pool pool(10);
  std::vector<std::set<int>> runs;
  for (int run = 0; run < 4; ++run) {
    std::vector<int> got;
    for (int v : pool.imap_unordered(echo, std::views::iota(0, 10))) got.push_back(v);
    EXPECT_EQ(got.size(), 10u);
    runs.emplace_back(got.begin(), got.end());
  }
  std::set<int> expected;
  for (int i = 0; i < 10; ++i) expected.insert(i);
  for (const auto& run : runs) EXPECT_EQ(run, expected);
}
