// Hub::reset_in_forked_child: in a forked child, the forking greenlet is its
// hub's only greenlet, on a working loop; the greenlets that slept, waited
// for a descriptor or were runnable at fork time never run there.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

namespace {

void put(int fd, char c) { ASSERT_EQ(write(fd, &c, 1), 1); }

// Runs `body` in a child made by fork() from a greenlet (not the main one)
// of a fresh hub; returns the letters the child's greenlets wrote to the
// report pipe, and its exit status.
std::pair<std::string, int> in_forked_child(void (*body)(int report)) {
  int report[2];
  EXPECT_EQ(pipe(report), 0);
  int idle[2];  // a greenlet waits to read this; the child makes it readable
  EXPECT_EQ(pipe(idle), 0);
  pid_t pid = -1;
  std::thread([&] {
    auto sleeper = gh::spawn([&] {
      gh::sleep(50ms);
      put(report[1], 'S');
    });
    auto reader = gh::spawn([&] {
      if (gh::wait_readable(idle[0], 2s)) put(report[1], 'R');
    });
    auto forker = gh::spawn([&] {
      gh::sleep(1ms);  // the others are parked now
      auto runnable = gh::spawn([&] { put(report[1], 'Q'); });  // runnable at fork time
      pid = fork();
      if (pid != 0) return;
      gh::Hub::current().reset_in_forked_child();
      put(idle[1], 'x');
      body(report[1]);
      _exit(0);
    });
    forker.join();
    sleeper.join();
    reader.join();
  }).join();
  close(report[1]);
  close(idle[0]);
  close(idle[1]);
  int status = -1;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  std::string letters;
  char c;
  while (read(report[0], &c, 1) == 1) letters += c;
  close(report[0]);
  return {letters, status};
}

}  // namespace

TEST(ForkedChild, KeepsOnlyTheForkingGreenletOnAWorkingLoop) {
  auto [letters, status] = in_forked_child([](int report) {
    // The loop works: timers, new greenlets, descriptors.
    gh::sleep(100ms);  // past the sleeper's deadline
    auto child = gh::spawn([report] {
      gh::sleep(5ms);
      put(report, 'C');
    });
    child.join();
    put(report, 'F');
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // The child's own greenlets wrote C then F.
  std::string child_part;
  for (char c : letters) {
    if (c == 'C' || c == 'F') child_part += c;
  }
  EXPECT_EQ(child_part, "CF");
  // The sleeper, the reader (the pipe is shared, and the child made it
  // readable) and the runnable greenlet wrote once each: in the parent. In
  // the child they never ran.
  EXPECT_EQ(std::count(letters.begin(), letters.end(), 'S'), 1) << letters;
  EXPECT_EQ(std::count(letters.begin(), letters.end(), 'Q'), 1) << letters;
  EXPECT_EQ(std::count(letters.begin(), letters.end(), 'R'), 1) << letters;
}

TEST(ForkedChild, StacksCanBeAllocatedAfterLockingForFork) {
  gh::Hub::lock_for_fork();
  pid_t pid = fork();
  gh::Hub::unlock_after_fork();
  if (pid == 0) {
    gh::Hub::current().reset_in_forked_child();
    int sum = 0;
    for (int i = 0; i < 10; ++i) sum += gh::spawn([i] { return i; }).get();
    _exit(sum == 45 ? 0 : 1);
  }
  int status = -1;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}
