#include <gtest/gtest.h>
#include <unistd.h>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(Sleep, SleepsAtLeastItsDuration) {
  auto start = std::chrono::steady_clock::now();
  gh::sleep(15ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 15ms);
}

TEST(Sleep, ConcurrentSleepsOverlap) {
  auto start = std::chrono::steady_clock::now();
  std::vector<gh::AnyGreenlet> all;
  for (int i = 0; i < 100; ++i) all.push_back(gh::spawn([] { gh::sleep(30ms); }));
  gh::joinall(all);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // not 100 x 30 ms
}

TEST(Sleep, ZeroYieldsWithoutBlocking) {
  int counter = 0;
  auto g = gh::spawn([&] { ++counter; });
  EXPECT_EQ(counter, 0);
  gh::sleep(0ms);
  EXPECT_EQ(counter, 1);
  g.join();
}

TEST(WaitIo, ReadableWhenDataArrives) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto writer = gh::spawn([&] {
    gh::sleep(5ms);
    EXPECT_EQ(write(fds[1], "x", 1), 1);
  });
  EXPECT_TRUE(gh::wait_readable(fds[0], 5s));
  char c;
  EXPECT_EQ(read(fds[0], &c, 1), 1);
  writer.join();
  close(fds[0]);
  close(fds[1]);
}

TEST(WaitIo, TimeoutReturnsFalse) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_FALSE(gh::wait_readable(fds[0], 5ms));
  EXPECT_TRUE(gh::wait_writable(fds[1], 5ms));
  close(fds[0]);
  close(fds[1]);
}

TEST(WaitIo, CrossHubWakeFromAnotherThread) {
  // A greenlet parked on this hub is woken by a plain OS thread.
  gh::Hub& hub = gh::Hub::current();
  gh::WaitToken token = hub.prepare_park();
  std::thread waker([token] {
    std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(gh::Hub::wake(token));
    EXPECT_FALSE(gh::Hub::wake(token));  // a second wake of the same park is a no-op
  });
  hub.add_external_wait();
  EXPECT_EQ(hub.park(token), gh::WakeReason::kWoken);
  hub.remove_external_wait();
  waker.join();
}
