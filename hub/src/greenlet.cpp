#include "greenhub/greenlet.hpp"

#include <algorithm>

namespace greenhub {

namespace {

bool is_greenlet_exit(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const GreenletExit&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Deadlines in joinall/kill loops are computed once, then re-armed with
// what is left of them.
struct DeadlineClock {
  explicit DeadlineClock(std::optional<Duration> timeout) {
    if (timeout) end = std::chrono::steady_clock::now() + *timeout;
  }
  Deadline remaining() const {
    if (!end) return Deadline::never();
    return Deadline::after(std::max(Duration::zero(),
                                    std::chrono::duration_cast<Duration>(
                                        *end - std::chrono::steady_clock::now())));
  }
  bool expired() const { return end && std::chrono::steady_clock::now() >= *end; }
  std::optional<std::chrono::steady_clock::time_point> end;
};

}  // namespace

void GreenletCore::finished(std::exception_ptr error) {
  if (error != nullptr && is_greenlet_exit(error)) {
    killed_ = true;
    error = nullptr;
  }
  exception_ = std::move(error);
  release_body();
  joiners_.wake_all();
}

bool GreenletCore::join(std::optional<Duration> timeout) {
  if (dead()) return true;
  if (this == Hub::current().current_greenlet()) {
    throw std::logic_error("greenhub: a greenlet cannot join itself");
  }
  DeadlineClock clock(timeout);
  while (!dead()) {
    if (!joiners_.wait(clock.remaining())) break;
  }
  return dead();
}

void GreenletCore::kill(std::exception_ptr exception, bool block, std::optional<Duration> timeout) {
  if (dead()) return;
  if (exception == nullptr) exception = std::make_exception_ptr(GreenletExit());
  if (!started()) {
    finish_unstarted(exception);
    return;
  }
  Hub& hub = Hub::current();
  if (this == hub.current_greenlet()) std::rethrow_exception(exception);
  set_pending_exception(exception, this);
  Hub::interrupt(this);
  if (block) join(timeout);
}

void GreenletCore::link(std::function<void()> callback) {
  on_death([cb = std::move(callback)]() mutable { spawn(std::move(cb)); });
}

std::vector<AnyGreenlet> joinall(const std::vector<AnyGreenlet>& greenlets,
                                 std::optional<Duration> timeout, bool raise_error,
                                 std::optional<size_t> count) {
  const size_t wanted = std::min(count.value_or(greenlets.size()), greenlets.size());
  DeadlineClock clock(timeout);
  Hub& hub = Hub::current();
  auto finished = [&] {
    size_t n = 0;
    for (const AnyGreenlet& g : greenlets) {
      if (!g->dead()) continue;
      if (raise_error && g->exception()) std::rethrow_exception(g->exception());
      ++n;
    }
    return n;
  };
  while (finished() < wanted) {
    throw_if_pending();
    WaitToken token = hub.prepare_park();
    std::vector<std::unique_ptr<WaitList::Link>> links;
    links.reserve(greenlets.size());
    for (const AnyGreenlet& g : greenlets) {
      if (!g->dead()) links.push_back(std::make_unique<WaitList::Link>(g->joiners(), token));
    }
    if (!block(token, clock.remaining())) break;
  }
  std::vector<AnyGreenlet> done;
  for (const AnyGreenlet& g : greenlets) {
    if (g->dead()) done.push_back(g);
  }
  return done;
}

void killall(const std::vector<AnyGreenlet>& greenlets, std::exception_ptr exception, bool block,
             std::optional<Duration> timeout) {
  if (exception == nullptr) exception = std::make_exception_ptr(GreenletExit());
  GreenletBase* self = Hub::current().current_greenlet();
  for (const AnyGreenlet& g : greenlets) {
    if (g.core().get() == self) continue;
    g->kill(exception, false);
  }
  if (block) joinall(greenlets, timeout);
}

GreenletBase& getcurrent() { return *Hub::current().current_greenlet(); }

}  // namespace greenhub
