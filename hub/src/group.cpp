#include "greenhub/group.hpp"

#include <climits>
#include <stdexcept>

namespace greenhub {
namespace detail {

GroupState::GroupState(size_t capacity) : capacity_(capacity) {
  if (capacity > static_cast<size_t>(INT_MAX)) {
    throw std::invalid_argument("greenhub: pool size too large");
  }
  if (capacity != 0) slots_ = std::make_unique<Semaphore>(static_cast<int>(capacity));
}

bool GroupState::add(const AnyGreenlet& g, bool blocking, std::optional<Duration> timeout) {
  if (!g) throw std::invalid_argument("greenhub: cannot add an empty greenlet handle to a group");
  const GreenletCore* key = g.core().get();
  if (contains(key)) return true;
  if (slots_ != nullptr) {
    if (!slots_->acquire(blocking, timeout)) return false;
    if (contains(key)) {  // added by someone else while we waited for the slot
      slots_->release();
      return true;
    }
  }
  members_.emplace(key, g);
  std::weak_ptr<GroupState> weak = weak_from_this();
  // Runs right away if g is already dead.
  g->on_death([weak, key] {
    if (std::shared_ptr<GroupState> state = weak.lock()) state->discard(key);
  });
  return true;
}

void GroupState::discard(const GreenletCore* g) {
  auto it = members_.find(g);
  if (it == members_.end()) return;
  AnyGreenlet keep = std::move(it->second);  // g stays alive until we are done
  members_.erase(it);
  if (slots_ != nullptr) slots_->release();
  if (members_.empty()) emptied_.grant_all();
}

std::vector<AnyGreenlet> GroupState::greenlets() const {
  std::vector<AnyGreenlet> out;
  out.reserve(members_.size());
  for (const auto& [key, g] : members_) out.push_back(g);
  return out;
}

bool GroupState::join(std::optional<Duration> timeout, bool raise_error) {
  std::vector<AnyGreenlet> joined;
  if (raise_error) joined = greenlets();
  WaitDeadline deadline(timeout);
  // Holds the state: a member may drop the last Group handle meanwhile.
  std::shared_ptr<GroupState> self = shared_from_this();
  while (!members_.empty()) {
    if (!emptied_.wait(deadline, nullptr, "Group.join")) break;
  }
  for (const AnyGreenlet& g : joined) {
    if (g->dead() && g->exception() != nullptr) std::rethrow_exception(g->exception());
  }
  return members_.empty();
}

void GroupState::kill(std::exception_ptr exception, bool block, std::optional<Duration> timeout) {
  if (exception == nullptr) exception = std::make_exception_ptr(GreenletExit());
  const GreenletBase* self = Hub::current().current_greenlet();
  std::shared_ptr<GroupState> keep = shared_from_this();
  WaitDeadline deadline(timeout);
  for (;;) {
    std::vector<AnyGreenlet> victims;
    for (const auto& [key, g] : members_) {
      if (key != self) victims.push_back(g);
    }
    if (victims.empty()) return;
    for (const AnyGreenlet& g : victims) g->kill(exception, /*block=*/false);
    if (!block) return;
    // Members added meanwhile (an imap feeder) are killed in the next round.
    joinall(victims, deadline.remaining_timeout());
    if (deadline.expired()) return;
  }
}

size_t GroupState::free_count() const {
  if (slots_ == nullptr) return std::numeric_limits<size_t>::max();
  return static_cast<size_t>(slots_->counter());
}

size_t GroupState::wait_available(std::optional<Duration> timeout) {
  if (slots_ != nullptr) slots_->wait(timeout);
  return free_count();
}

}  // namespace detail

void Group::add(const AnyGreenlet& g, bool blocking, std::optional<Duration> timeout) {
  if (!state_->add(g, blocking, timeout)) throw Timeout(timeout.value_or(Duration::zero()), false);
}

void Group::start(const AnyGreenlet& g) {
  add(g);
  g->start();
}

void Group::killone(const AnyGreenlet& g, std::exception_ptr exception, bool block,
                    std::optional<Duration> timeout) {
  if (!contains(g)) return;
  g->kill(std::move(exception), block, timeout);
}

}  // namespace greenhub
