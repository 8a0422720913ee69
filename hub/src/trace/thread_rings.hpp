// ThreadRings: the registry of per-thread EventRings (see trace.hpp).
//
// How it works
//   A thread gets a ring on its first event: a released ring of an exited
//   thread if there is one (claimed with a compare-and-swap of in_use), else
//   a new one pushed on a lock-free list. Rings are never freed, so the
//   writer can walk the list at any time without a lock; a ring released
//   by an exiting thread keeps its unread records until the writer drains
//   them, and its next owner appends after them.
#pragma once

#include <atomic>
#include <cstdint>

#include "event_ring.hpp"

namespace greenhub::trace {

struct ThreadRing {
  explicit ThreadRing(size_t capacity, uint32_t ring_id) : ring(capacity), id(ring_id) {}
  EventRing ring;
  const uint32_t id;
  std::atomic<bool> in_use{true};
  ThreadRing* next = nullptr;
  uint64_t reported_dropped = 0;  // the writer's: dropped count already written
};

// The head of the list of every ring ever made.
ThreadRing* first_ring();
// The calling thread's ring (made on first use), or nullptr if none could be made.
ThreadRing* my_ring();
// Records per ring (power of two).
inline constexpr size_t kRingCapacity = 8192;

}  // namespace greenhub::trace
