#include "greenhub/wait_list.hpp"

#include "greenhub/wait.hpp"

namespace greenhub {

void WaitList::push(Node* node) {
  node->list = this;
  node->next = nullptr;
  node->prev = tail_;
  if (tail_ != nullptr) tail_->next = node;
  else head_ = node;
  tail_ = node;
  ++size_;
}

void WaitList::remove(Node* node) {
  if (node->list != this) return;
  if (node->prev != nullptr) node->prev->next = node->next;
  else head_ = node->next;
  if (node->next != nullptr) node->next->prev = node->prev;
  else tail_ = node->prev;
  node->prev = node->next = nullptr;
  node->list = nullptr;
  --size_;
}

bool WaitList::wake_one(WakeReason reason) {
  while (head_ != nullptr) {
    Node* node = head_;
    remove(node);
    if (Hub::wake(node->token, reason)) return true;
  }
  return false;
}

size_t WaitList::wake_all(WakeReason reason) {
  size_t woken = 0;
  while (head_ != nullptr) {
    Node* node = head_;
    remove(node);
    if (Hub::wake(node->token, reason)) ++woken;
  }
  return woken;
}

bool WaitList::wait(Deadline deadline) {
  throw_if_pending();
  Hub& hub = Hub::current();
  WaitToken token = hub.prepare_park();
  Link link(*this, token);
  return block(token, deadline);
}

}  // namespace greenhub
