// WaiterQueue: the greenlets parked on one green sync object, in FIFO order,
// each of which a waker can *grant* something: a permit (Semaphore, Lock), a
// notification (Event, Condition), an item or a free place (Queue).
//
// How it works
//   A waiter links a Waiter node on its own stack (Entry, RAII) and parks.
//   A granter takes nodes from the front: if waking a node's token succeeds,
//   the node is marked granted and returned, still valid until the waiter
//   resumes (nothing else runs on this hub until the granter switches away),
//   so the granter can hand over what it grants through the node's `slot`
//   synchronously. A node whose wake fails belongs to a greenlet that already
//   stopped waiting (timed out, killed, Timeout) and is dropped on the way.
//
//   This direct hand-off is what makes every primitive built on it fair: a
//   released permit or a put item goes to the oldest waiter; a greenlet that
//   arrives later cannot take it between the grant and the waiter's resume.
//
// Invariants
//   - A granted waiter's park was woken with kWoken by the grant itself, so
//     its wait returns "granted" and nothing else (a kill or a Timeout that
//     arrives later is raised at its next wait, not this one): a grant is
//     never lost.
//   - A waiter that was not granted has unlinked itself when its wait
//     returns or throws; the queue never holds a node of a greenlet that
//     stopped waiting on it, once that greenlet has run.
//   - Belongs to one hub; takes no lock. Destroying a queue that still has
//     waiters detaches them (they stay parked until their own deadline or
//     kill): destroying a sync object others wait on is a bug of the caller,
//     but not a use-after-free.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "greenhub/runtime.hpp"

namespace greenhub {

// A timeout turned into a fixed end point, so that a wait that loops
// (spurious wake-ups, a condition that turned false again) re-arms with what
// is left rather than the whole timeout.
class WaitDeadline {
 public:
  explicit WaitDeadline(std::optional<Duration> timeout) {
    if (timeout) end_ = std::chrono::steady_clock::now() + *timeout;
  }
  static WaitDeadline never() { return WaitDeadline(std::nullopt); }

  bool is_never() const { return !end_.has_value(); }
  bool expired() const { return end_ && std::chrono::steady_clock::now() >= *end_; }
  // What is left, as a park deadline (zero once expired).
  Deadline remaining() const;
  // What is left, as an API timeout (std::nullopt for never).
  std::optional<Duration> remaining_timeout() const;

 private:
  std::optional<std::chrono::steady_clock::time_point> end_;
};

class WaiterQueue {
 public:
  struct Waiter {
    WaitToken token;
    void* slot = nullptr;  // what the owner exchanges on a grant, or null
    bool granted = false;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    WaiterQueue* queue = nullptr;
  };

  // Links a waiter for one park of the current greenlet; unlinks it on
  // destruction unless a granter already took it off.
  class Entry {
   public:
    Entry(WaiterQueue& queue, WaitToken token, void* slot = nullptr) {
      waiter_.token = token;
      waiter_.slot = slot;
      queue.push(&waiter_);
    }
    ~Entry() {
      if (waiter_.queue != nullptr) waiter_.queue->remove(&waiter_);
    }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

    bool granted() const { return waiter_.granted; }

   private:
    Waiter waiter_;
  };

  WaiterQueue() = default;
  ~WaiterQueue();
  WaiterQueue(const WaiterQueue&) = delete;
  WaiterQueue& operator=(const WaiterQueue&) = delete;

  bool empty() const { return head_ == nullptr; }
  // Linked waiters, including any that stopped waiting but have not run yet.
  size_t size() const { return size_; }

  // Wakes the oldest waiter still waiting, marks it granted and returns it
  // (valid until the caller next switches away); nullptr if there is none.
  Waiter* grant_one();
  // Grants every waiter still waiting; returns how many.
  size_t grant_all();

  // Parks the current greenlet as a waiter, with `slot` for the granter,
  // until it is granted (true) or `deadline` passes (false). Wake-ups that
  // are not grants are absorbed. Throws the greenlet's pending exception
  // (kill, Timeout) and LoopExit like block(). `what` names the wait for
  // introspection (GreenletBase::waiting_on): a string literal.
  bool wait(const WaitDeadline& deadline, void* slot = nullptr, const char* what = nullptr);

 private:
  void push(Waiter* w);
  void remove(Waiter* w);

  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace greenhub
