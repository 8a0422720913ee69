#include "greenhub/waiter_queue.hpp"

#include <algorithm>

#include "greenhub/wait.hpp"

namespace greenhub {

Deadline WaitDeadline::remaining() const {
  std::optional<Duration> left = remaining_timeout();
  return left ? Deadline::after(*left) : Deadline::never();
}

std::optional<Duration> WaitDeadline::remaining_timeout() const {
  if (!end_) return std::nullopt;
  auto left = std::chrono::duration_cast<Duration>(*end_ - std::chrono::steady_clock::now());
  return std::max(Duration::zero(), left);
}

WaiterQueue::~WaiterQueue() {
  for (Waiter* w = head_; w != nullptr;) {
    Waiter* next = w->next;
    w->queue = nullptr;
    w->prev = w->next = nullptr;
    w = next;
  }
}

void WaiterQueue::push(Waiter* w) {
  w->queue = this;
  w->granted = false;
  w->next = nullptr;
  w->prev = tail_;
  if (tail_ != nullptr) tail_->next = w;
  else head_ = w;
  tail_ = w;
  ++size_;
}

void WaiterQueue::remove(Waiter* w) {
  if (w->queue != this) return;
  if (w->prev != nullptr) w->prev->next = w->next;
  else head_ = w->next;
  if (w->next != nullptr) w->next->prev = w->prev;
  else tail_ = w->prev;
  w->prev = w->next = nullptr;
  w->queue = nullptr;
  --size_;
}

WaiterQueue::Waiter* WaiterQueue::grant_one() {
  while (head_ != nullptr) {
    Waiter* w = head_;
    remove(w);
    if (Hub::wake(w->token, WakeReason::kWoken)) {
      w->granted = true;
      return w;
    }
  }
  return nullptr;
}

size_t WaiterQueue::grant_all() {
  size_t granted = 0;
  while (grant_one() != nullptr) ++granted;
  return granted;
}

bool WaiterQueue::wait(const WaitDeadline& deadline, void* slot, const char* what) {
  Hub& hub = Hub::current();
  GreenletBase* g = hub.current_greenlet();
  throw_if_pending();
  struct RestoreWaitingOn {
    GreenletBase* g;
    const char* previous;
    ~RestoreWaitingOn() { g->set_waiting_on(previous); }
  } restore{g, g->waiting_on()};
  if (what != nullptr) g->set_waiting_on(what);
  for (;;) {
    if (deadline.expired()) return false;
    WaitToken token = hub.prepare_park();
    Entry entry(*this, token, slot);
    const bool woken = block(token, deadline.remaining());
    if (entry.granted()) return true;
    if (!woken) return false;
    // Woken without a grant (an interrupt that carried no exception): wait on.
  }
}

}  // namespace greenhub
