// EventRing: a bounded single-producer, single-consumer ring of trace
// records.
//
// How it works
//   `head` counts records ever pushed (written by the producer only), `tail`
//   records ever popped (written by the consumer only); both only grow, and
//   slot i holds record number i mod capacity. The producer writes a slot
//   and then publishes it with a release store of head; the consumer reads
//   head with acquire, copies the records out, then releases the slots with
//   a release store of tail. Each side caches the other's counter and
//   reloads it only when the ring looks full (producer) or empty (consumer),
//   so the common push touches no cache line the consumer writes.
//
// Invariants
//   - 0 <= head - tail <= capacity (capacity is a power of two).
//   - A full ring never blocks the producer: push() fails and the record is
//     counted in `dropped` (written by the producer, read by anyone).
//   - Exactly one producer thread at a time; ownership may pass to another
//     thread only with a happens-before edge (the registry's in_use flag).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "trace_format.hpp"

namespace greenhub::trace {

class EventRing {
 public:
  explicit EventRing(size_t capacity_pow2)
      : capacity_(capacity_pow2), mask_(capacity_pow2 - 1), slots_(new Record[capacity_pow2]) {}
  EventRing(const EventRing&) = delete;
  EventRing& operator=(const EventRing&) = delete;

  size_t capacity() const { return capacity_; }

  // Producer: appends `r`, or counts it as dropped when the ring is full.
  bool push(const Record& r) noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cache_ >= capacity_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cache_ >= capacity_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    slots_[head & mask_] = r;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer: copies up to `max` records into `out`; returns how many.
  size_t pop(Record* out, size_t max) noexcept {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    uint64_t head = head_cache_;
    if (head == tail) head = head_cache_ = head_.load(std::memory_order_acquire);
    size_t n = static_cast<size_t>(head - tail);
    if (n > max) n = max;
    for (size_t i = 0; i < n; ++i) out[i] = slots_[(tail + i) & mask_];
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

  // Records dropped so far (any thread).
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  // Records waiting to be popped (approximate from other threads).
  size_t size() const noexcept {
    return static_cast<size_t>(head_.load(std::memory_order_acquire) -
                               tail_.load(std::memory_order_acquire));
  }

 private:
  const size_t capacity_;
  const uint64_t mask_;
  std::unique_ptr<Record[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t tail_cache_ = 0;  // producer's view of tail
  std::atomic<uint64_t> dropped_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t head_cache_ = 0;  // consumer's view of head
};

}  // namespace greenhub::trace
