// WaitList: the greenlets parked on one thing (an Event, a Queue, a
// greenlet's death), in FIFO order. Belongs to one hub; takes no lock.
//
// How it works
//   Each waiter puts a Node on its own stack, links it, and blocks. A waker
//   unlinks nodes from the front and wakes their tokens. A node whose wake
//   fails (its greenlet was already woken by something else: a timeout, a
//   kill, another list sharing the same token) is skipped. A waiter unlinks
//   its own node when it resumes for any reason (RAII), so the list never
//   holds a node of a greenlet that has stopped waiting.
//
//   Several lists may hold nodes carrying the same token (joinall waits on
//   many greenlets at once): the first wake wins, the others are no-ops.
#pragma once

#include <cstddef>

#include "greenhub/runtime.hpp"

namespace greenhub {

class WaitList {
 public:
  struct Node {
    WaitToken token;
    Node* prev = nullptr;
    Node* next = nullptr;
    WaitList* list = nullptr;
  };

  // Unlinks a node on destruction if it is still linked.
  class Link {
   public:
    Link(WaitList& list, WaitToken token) {
      node_.token = token;
      list.push(&node_);
    }
    ~Link() {
      if (node_.list != nullptr) node_.list->remove(&node_);
    }
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

   private:
    Node node_;
  };

  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

  void push(Node* node);
  void remove(Node* node);

  // Wakes the first waiter still waiting; returns false if there was none.
  bool wake_one(WakeReason reason = WakeReason::kWoken);
  // Wakes every waiter; returns how many were woken.
  size_t wake_all(WakeReason reason = WakeReason::kWoken);

  // Parks the current greenlet on this list until woken (true) or the
  // deadline passes (false). Throws like block().
  bool wait(Deadline deadline = Deadline::never());

 private:
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace greenhub
