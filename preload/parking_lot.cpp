#include "parking_lot.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>

#include "greenhub/spin_lock.hpp"
#include "raw_syscall.hpp"
#include "runtime.hpp"

namespace greenhub::preload {
namespace {

struct Waiter {
  const void* address = nullptr;
  Waiter* next = nullptr;
  bool green = false;
  WaitToken token;                 // green waiters
  std::atomic<uint32_t> woken{0};  // real waiters: the futex word
};

struct alignas(64) Bucket {
  SpinLock lock;
  Waiter* head = nullptr;
  Waiter* tail = nullptr;

  void enqueue(Waiter* w) {
    w->next = nullptr;
    if (tail != nullptr) tail->next = w;
    else head = w;
    tail = w;
  }
  // Removes w if queued; returns whether it was.
  bool remove(Waiter* w) {
    Waiter* prev = nullptr;
    for (Waiter* it = head; it != nullptr; prev = it, it = it->next) {
      if (it != w) continue;
      unlink(prev, it);
      return true;
    }
    return false;
  }
  void unlink(Waiter* prev, Waiter* w) {
    if (prev != nullptr) prev->next = w->next;
    else head = w->next;
    if (tail == w) tail = prev;
    w->next = nullptr;
  }
};

constexpr size_t kBuckets = 1024;
Bucket buckets[kBuckets];

Bucket& bucket_for(const void* address) {
  uint64_t x = reinterpret_cast<uintptr_t>(address) >> 3;
  x *= 0x9E3779B97F4A7C15ull;
  return buckets[x >> (64 - 10)];
}

}  // namespace

ParkResult ParkingLot::park_impl(const void* address, bool (*validate)(void*), void* ctx,
                                 const AbsDeadline& deadline) {
  Bucket& bucket = bucket_for(address);
  Waiter waiter;
  waiter.address = address;
  Hub* hub = green_hub();
  if (hub != nullptr) {
    waiter.green = true;
    waiter.token = hub->prepare_park();
  }
  bucket.lock.lock();
  if (!validate(ctx)) {
    bucket.lock.unlock();
    if (hub != nullptr) hub->cancel_park(waiter.token);
    return ParkResult::kInvalid;
  }
  bucket.enqueue(&waiter);
  bucket.lock.unlock();

  if (hub != nullptr) {
    WakeReason reason = hub->park(waiter.token, deadline.to_hub());
    if (reason == WakeReason::kWoken) return ParkResult::kUnparked;
    std::lock_guard<SpinLock> lock(bucket.lock);
    bucket.remove(&waiter);
    return reason == WakeReason::kTimedOut ? ParkResult::kTimedOut : ParkResult::kInterrupted;
  }

  timespec ts{};
  clockid_t clock = CLOCK_MONOTONIC;
  if (!deadline.infinite) deadline.to_futex(&ts, &clock);
  auto* word = reinterpret_cast<const uint32_t*>(&waiter.woken);
  for (;;) {
    if (waiter.woken.load(std::memory_order_acquire) != 0) return ParkResult::kUnparked;
    long rc = futex_wait_abs(word, 0, deadline.infinite ? nullptr : &ts, clock);
    if (rc == -ETIMEDOUT) {
      std::lock_guard<SpinLock> lock(bucket.lock);
      if (bucket.remove(&waiter)) return ParkResult::kTimedOut;
      // Dequeued by an unpark at the same moment: that wake is ours.
      return ParkResult::kUnparked;
    }
  }
}

size_t ParkingLot::unpark_some(const void* address, size_t count) {
  Bucket& bucket = bucket_for(address);
  size_t woken = 0;
  std::lock_guard<SpinLock> lock(bucket.lock);
  Waiter* prev = nullptr;
  Waiter* w = bucket.head;
  while (w != nullptr && woken < count) {
    Waiter* next = w->next;
    if (w->address != address) {
      prev = w;
      w = next;
      continue;
    }
    bucket.unlink(prev, w);
    if (w->green) {
      if (Hub::wake(w->token)) ++woken;
    } else {
      w->woken.store(1, std::memory_order_release);
      futex_wake(reinterpret_cast<const uint32_t*>(&w->woken), 1);
      ++woken;
    }
    w = next;
  }
  return woken;
}

bool ParkingLot::unpark_one(const void* address) { return unpark_some(address, 1) == 1; }

void ParkingLot::reset_in_forked_child() {
  // Read before writing: only the buckets that need it are written, so the
  // child does not copy the whole table's pages.
  for (Bucket& bucket : buckets) {
    if (bucket.lock.is_locked()) bucket.lock.unlock();
    if (bucket.head != nullptr || bucket.tail != nullptr) bucket.head = bucket.tail = nullptr;
  }
}

}  // namespace greenhub::preload
