// EventRing (hub/src/trace/event_ring.hpp): order, wrap-around, drop
// counting when full, and one producer racing one consumer.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "event_ring.hpp"

using greenhub::trace::EventRing;
using greenhub::trace::Kind;
using greenhub::trace::Record;

namespace {

Record numbered(uint64_t i) {
  Record r{};
  r.kind = Kind::kWait;
  r.t = i;
  r.greenlet = i * 7;
  return r;
}

TEST(EventRing, PopsInPushOrder) {
  EventRing ring(8);
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(ring.push(numbered(i)));
  Record out[8];
  ASSERT_EQ(ring.pop(out, 8), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i].t, i);
    EXPECT_EQ(out[i].greenlet, i * 7);
  }
  EXPECT_EQ(ring.pop(out, 8), 0u);
  EXPECT_EQ(ring.dropped(), 0u);
}

TEST(EventRing, WrapsAroundManyTimes) {
  EventRing ring(8);
  Record out[3];
  uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 100; ++round) {
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(ring.push(numbered(next_in++)));
    size_t n = ring.pop(out, 3);
    ASSERT_EQ(n, 3u);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i].t, next_out++);
  }
  EXPECT_EQ(next_out, 300u);
  EXPECT_EQ(ring.dropped(), 0u);
}

TEST(EventRing, FullRingDropsAndCountsInsteadOfBlocking) {
  EventRing ring(4);
  for (uint64_t i = 0; i < 4; ++i) ASSERT_TRUE(ring.push(numbered(i)));
  EXPECT_FALSE(ring.push(numbered(100)));
  EXPECT_FALSE(ring.push(numbered(101)));
  EXPECT_EQ(ring.dropped(), 2u);
  Record out[8];
  ASSERT_EQ(ring.pop(out, 8), 4u);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(out[i].t, i);  // the dropped ones are not there
  EXPECT_TRUE(ring.push(numbered(4)));  // room again
  ASSERT_EQ(ring.pop(out, 8), 1u);
  EXPECT_EQ(out[0].t, 4u);
  EXPECT_EQ(ring.dropped(), 2u);
}

TEST(EventRing, PopTakesAtMostMax) {
  EventRing ring(16);
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(ring.push(numbered(i)));
  Record out[4];
  ASSERT_EQ(ring.pop(out, 4), 4u);
  EXPECT_EQ(out[3].t, 3u);
  ASSERT_EQ(ring.pop(out, 4), 4u);
  EXPECT_EQ(out[0].t, 4u);
  ASSERT_EQ(ring.pop(out, 4), 2u);
  EXPECT_EQ(out[1].t, 9u);
}

// A producer pushes a numbered sequence while a consumer drains: every
// record arrives once, in order, or is counted as dropped.
TEST(EventRing, ConcurrentProducerAndConsumerLoseNothingUncounted) {
  EventRing ring(64);
  constexpr uint64_t kEvents = 200000;
  std::atomic<bool> done{false};
  std::vector<uint64_t> received;
  received.reserve(kEvents);
  std::thread consumer([&] {
    Record out[32];
    for (;;) {
      const bool finished = done.load(std::memory_order_acquire);
      size_t n = ring.pop(out, 32);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[i].greenlet, out[i].t * 7);  // never a torn record
        received.push_back(out[i].t);
      }
      if (n == 0 && finished) break;
    }
  });
  uint64_t accepted = 0;
  for (uint64_t i = 0; i < kEvents; ++i) accepted += ring.push(numbered(i)) ? 1 : 0;
  done.store(true, std::memory_order_release);
  consumer.join();
  EXPECT_EQ(received.size(), accepted);
  EXPECT_EQ(accepted + ring.dropped(), kEvents);
  for (size_t i = 1; i < received.size(); ++i) ASSERT_LT(received[i - 1], received[i]);
}

}  // namespace
