// Queue<T>: a FIFO queue between greenlets (gevent.queue.Queue, with
// JoinableQueue's task_done/join).
//
//   greenhub::Queue<int> q(10);        // at most 10 items; 0 = unbounded
//   q.put(1);                          // waits while full
//   int v = q.get();                   // waits while empty
//   q.get(false);                      // throws greenhub::QueueEmpty
//   q.put(2, true, 5ms);               // throws greenhub::QueueFull on timeout
//
// How it works
//   Items live in a deque. A get() on an empty queue queues the greenlet as
//   a getter (FIFO) with a slot on its stack; put() hands its item straight
//   into the oldest getter's slot (WaiterQueue grant) instead of the deque.
//   A put() on a full queue queues the greenlet as a putter with a pointer
//   to its item; get() takes the front item and moves the oldest putter's
//   item into the deque in the same step. Hand-off makes the queue fair: a
//   greenlet arriving later cannot overtake a waiting getter or putter.
//   peek() waiters are woken when an item lands in the deque.
//
// Invariants
//   - Getters wait only while the deque is empty; putters only while it is
//     full (so never for an unbounded queue).
//   - unfinished_tasks() counts items put and not yet task_done(); it grows
//     when an item enters the deque or is handed to a getter, so join()
//     cannot return while any item is still in the queue.
//   - An item is never lost to a getter that stopped waiting (timeout,
//     kill): only a waiter whose wake succeeded receives it.
//   - T must be movable (peek() also needs it copyable). Belongs to one
//     hub; takes no lock.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <stdexcept>
#include <utility>

#include "greenhub/runtime.hpp"
#include "greenhub/waiter_queue.hpp"

namespace greenhub {

// Raised by get()/peek() on an empty queue when not blocking or on timeout
// (gevent.queue.Empty).
class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("greenhub: queue is empty") {}
};

// Raised by put() on a full queue when not blocking or on timeout
// (gevent.queue.Full).
class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("greenhub: queue is full") {}
};

template <class T>
class Queue {
 public:
  explicit Queue(size_t maxsize = 0) : maxsize_(maxsize) {}
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Adds `item`; waits while the queue is full when `block` (up to
  // `timeout`). Throws QueueFull if it could not, and the greenlet's kill
  // or Timeout while waiting (the item is then not added).
  void put(T item, bool block = true, std::optional<Duration> timeout = std::nullopt) {
    if (WaiterQueue::Waiter* getter = getters_.grant_one()) {
      *static_cast<std::optional<T>*>(getter->slot) = std::move(item);
      ++unfinished_;
      return;
    }
    if (!full()) {
      items_.push_back(std::move(item));
      ++unfinished_;
      peekers_.grant_all();
      return;
    }
    if (!block) throw QueueFull();
    // Granted means a get() moved the item into the deque (and counted it).
    if (!putters_.wait(WaitDeadline(timeout), &item, "Queue.put")) throw QueueFull();
  }
  void put_nowait(T item) { put(std::move(item), false); }

  // Removes and returns the oldest item; waits while the queue is empty
  // when `block` (up to `timeout`). Throws QueueEmpty if there was none,
  // and the greenlet's kill or Timeout while waiting.
  T get(bool block = true, std::optional<Duration> timeout = std::nullopt) {
    WaitDeadline deadline(timeout);
    for (;;) {
      if (!items_.empty()) {
        T item = std::move(items_.front());
        items_.pop_front();
        if (WaiterQueue::Waiter* putter = putters_.grant_one()) {
          items_.push_back(std::move(*static_cast<T*>(putter->slot)));
          ++unfinished_;
        }
        return item;
      }
      if (!block) throw QueueEmpty();
      std::optional<T> slot;
      if (!getters_.wait(deadline, &slot, "Queue.get")) throw QueueEmpty();
      if (slot) return std::move(*slot);
      // Granted without an item (the putter's move threw): wait on.
    }
  }
  T get_nowait() { return get(false); }

  // The oldest item, left in the queue; waits like get() while empty.
  T peek(bool block = true, std::optional<Duration> timeout = std::nullopt) const {
    WaitDeadline deadline(timeout);
    while (items_.empty()) {
      if (!block || !peekers_.wait(deadline, nullptr, "Queue.peek")) throw QueueEmpty();
    }
    return items_.front();
  }
  T peek_nowait() const { return peek(false); }

  size_t qsize() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  bool full() const { return maxsize_ != 0 && items_.size() >= maxsize_; }
  // 0 for an unbounded queue.
  size_t maxsize() const { return maxsize_; }

  // Marks one item taken from the queue as processed. Throws
  // std::logic_error when called more times than items were put (Python
  // raises ValueError).
  void task_done() {
    if (unfinished_ == 0) throw std::logic_error("greenhub: task_done() called too many times");
    if (--unfinished_ == 0) joiners_.grant_all();
  }
  // Waits until every item put has been marked task_done(); false if the
  // timeout passed first.
  bool join(std::optional<Duration> timeout = std::nullopt) {
    WaitDeadline deadline(timeout);
    while (unfinished_ > 0) {
      if (!joiners_.wait(deadline, nullptr, "Queue.join")) return unfinished_ == 0;
    }
    return true;
  }
  size_t unfinished_tasks() const { return unfinished_; }

 private:
  size_t maxsize_;
  std::deque<T> items_;
  size_t unfinished_ = 0;
  WaiterQueue getters_;
  WaiterQueue putters_;
  mutable WaiterQueue peekers_;
  WaiterQueue joiners_;
};

}  // namespace greenhub
