#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "greenhub/greenhub.hpp"

using namespace std::chrono_literals;
namespace gh = greenhub;

TEST(AsyncResult, SetValueWakesEveryGetter) {
  gh::AsyncResult<std::string> result;
  EXPECT_FALSE(result.ready());
  auto a = gh::spawn([&] { return result.get() + "-a"; });
  auto b = gh::spawn([&] { return result.get() + "-b"; });
  gh::sleep(0ms);
  EXPECT_FALSE(a.ready());
  result.set("v");
  EXPECT_EQ(a.get(), "v-a");
  EXPECT_EQ(b.get(), "v-b");
  EXPECT_TRUE(result.ready());
  EXPECT_TRUE(result.successful());
  EXPECT_EQ(result.value(), "v");
  EXPECT_EQ(result.exception(), nullptr);
  EXPECT_EQ(result.get(), "v");  // get() may be called again
}

TEST(AsyncResult, SetExceptionIsRethrownByGet) {
  gh::AsyncResult<int> result;
  auto getter = gh::spawn([&] { return result.get(); });
  gh::sleep(0ms);
  result.set_exception(std::make_exception_ptr(std::runtime_error("failed")));
  getter.join();
  EXPECT_THROW(getter.get(), std::runtime_error);
  EXPECT_TRUE(result.ready());
  EXPECT_FALSE(result.successful());
  EXPECT_FALSE(result.value().has_value());
  EXPECT_NE(result.exception(), nullptr);
  EXPECT_THROW(result.get(), std::runtime_error);
}

TEST(AsyncResult, GetTimeoutThrowsTimeoutAndGetNowaitDoesNotWait) {
  gh::AsyncResult<int> result;
  EXPECT_THROW(result.get(3ms), gh::Timeout);
  EXPECT_THROW(result.get_nowait(), gh::Timeout);
  EXPECT_FALSE(result.wait(1ms));
  result.set(7);
  EXPECT_TRUE(result.wait(0ms));
  EXPECT_EQ(result.get_nowait(), 7);
}

TEST(AsyncResult, ALaterOutcomeReplacesTheEarlierOne) {
  gh::AsyncResult<int> result;
  result.set(1);
  result.set_exception(std::make_exception_ptr(std::logic_error("now an error")));
  EXPECT_FALSE(result.successful());
  EXPECT_THROW(result.get(), std::logic_error);
  result.set(2);
  EXPECT_EQ(result.get(), 2);
  EXPECT_EQ(result.exception(), nullptr);
}

TEST(AsyncResult, VoidResult) {
  gh::AsyncResult<> done;
  auto setter = gh::spawn([&] {
    gh::sleep(1ms);
    done.set();
  });
  done.get(1s);
  EXPECT_TRUE(done.successful());
  setter.join();
}

TEST(AsyncResult, KilledGetterLeavesAndOthersStillGetTheValue) {
  gh::AsyncResult<int> result;
  auto killed = gh::spawn([&] { return result.get(); });
  auto other = gh::spawn([&] { return result.get(); });
  gh::sleep(0ms);
  killed.kill();
  EXPECT_TRUE(killed.killed());
  result.set(3);
  EXPECT_EQ(other.get(), 3);
}
