#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

namespace {

template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    gh::sleep(1ms);
  }
  return true;
}

int error_code_of(int signum) {
  try {
    gh::signal_handler(signum, [] {});
  } catch (const std::system_error& e) {
    return e.code().value();
  }
  return 0;
}

}  // namespace

TEST(SignalHandler, ASignalToTheProcessRunsTheHandlerInANewGreenlet) {
  int calls = 0;
  bool in_spawned_greenlet = false;
  std::string name;
  auto handler = gh::signal_handler(SIGUSR1, [&] {
    ++calls;
    gh::GreenletBase& self = gh::getcurrent();
    in_spawned_greenlet = !self.is_main() && self.stack_size() > 0;
    name = self.name();
    gh::sleep(0ms);  // a handler is a greenlet: it may wait
  });
  EXPECT_TRUE(handler.active());
  EXPECT_EQ(handler.signum(), SIGUSR1);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  ASSERT_TRUE(wait_until([&] { return calls == 1; }));
  EXPECT_TRUE(in_spawned_greenlet);
  EXPECT_EQ(name, "signal_handler(SIGUSR1)");

  // Sent from another OS thread, it still runs on this hub.
  std::thread sender([] { kill(getpid(), SIGUSR1); });
  sender.join();
  ASSERT_TRUE(wait_until([&] { return calls == 2; }));
  handler.cancel();
  EXPECT_FALSE(handler.active());
}

TEST(SignalHandler, CancelStopsOnlyThatHandler) {
  int a_calls = 0;
  int b_calls = 0;
  auto a = gh::signal_handler(SIGUSR2, [&] { ++a_calls; });
  auto b = gh::signal_handler(SIGUSR2, [&] { ++b_calls; });
  a.cancel();
  a.cancel();  // idempotent
  EXPECT_FALSE(a.active());
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  ASSERT_TRUE(wait_until([&] { return b_calls == 1; }));
  gh::sleep(5ms);
  EXPECT_EQ(a_calls, 0);
  b.cancel();
  // With no handler left, the signal is back to its default disposition.
  struct sigaction current;
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST(SignalHandler, CancelledHandlerIgnoresLaterDeliveries) {
  int calls = 0;
  auto handler = gh::signal_handler(SIGWINCH, [&] { ++calls; });
  handler.cancel();
  // SIGWINCH's default action is to ignore it, so the process survives.
  ASSERT_EQ(kill(getpid(), SIGWINCH), 0);
  gh::sleep(20ms);
  EXPECT_EQ(calls, 0);
}

TEST(SignalHandler, DoesNotKeepTheHubAlive) {
  auto handler = gh::signal_handler(SIGUSR1, [] {});
  // Waiting for something only a greenlet could deliver, with nothing but
  // the signal handler on the loop: LoopExit, not a hang.
  gh::WaitList never;
  EXPECT_THROW(never.wait(), gh::LoopExit);
  handler.cancel();
}

TEST(SignalHandler, AnExceptionInTheHandlerIsReported) {
  bool ran = false;
  auto handler = gh::signal_handler(SIGUSR1, [&] {
    ran = true;
    throw std::runtime_error("handler blew up");
  });
  testing::internal::CaptureStderr();
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  bool handled = wait_until([&] { return ran; });
  gh::sleep(1ms);
  std::string err = testing::internal::GetCapturedStderr();
  handler.cancel();
  ASSERT_TRUE(handled);
  EXPECT_NE(err.find("SIGUSR1"), std::string::npos) << err;
  EXPECT_NE(err.find("handler blew up"), std::string::npos) << err;
}

TEST(SignalHandler, BadSignalNumbersAreEinval) {
  EXPECT_EQ(error_code_of(0), EINVAL);
  EXPECT_EQ(error_code_of(-1), EINVAL);
  EXPECT_EQ(error_code_of(NSIG), EINVAL);
  EXPECT_EQ(error_code_of(SIGKILL), EINVAL);
  EXPECT_EQ(error_code_of(SIGSTOP), EINVAL);
  EXPECT_EQ(error_code_of(32), EINVAL);  // reserved by glibc (thread cancellation)
  EXPECT_THROW(gh::signal_handler(SIGUSR1, nullptr), std::invalid_argument);
}

TEST(SignalHandler, OneHubPerSignalAndThreadExitReleasesIt) {
  auto mine = gh::signal_handler(SIGUSR1, [] {});
  int other_hub_error = 0;
  bool other_registered = false;
  std::thread other([&] {
    other_hub_error = error_code_of(SIGUSR1);
    // A signal no other hub watches is fine; thread exit stops its watcher.
    gh::signal_handler(SIGUSR2, [] {});
    other_registered = true;
  });
  other.join();
  EXPECT_EQ(other_hub_error, EBUSY);
  EXPECT_TRUE(other_registered);
  // SIGUSR2 was released when that thread (and its hub) went away.
  int calls = 0;
  auto again = gh::signal_handler(SIGUSR2, [&] { ++calls; });
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  EXPECT_TRUE(wait_until([&] { return calls == 1; }));
  again.cancel();
  mine.cancel();
}
