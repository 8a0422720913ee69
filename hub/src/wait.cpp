#include "greenhub/wait.hpp"

#include <ev.h>

namespace greenhub {

void throw_if_pending() {
  GreenletBase* g = Hub::current().current_greenlet();
  if (g->has_pending_exception()) std::rethrow_exception(g->take_pending_exception());
}

bool block(WaitToken token, Deadline deadline) {
  Hub& hub = Hub::current();
  GreenletBase* g = hub.current_greenlet();
  if (g->has_pending_exception()) {
    hub.cancel_park(token);
    std::rethrow_exception(g->take_pending_exception());
  }
  switch (hub.park(token, deadline)) {
    case WakeReason::kWoken:
      return true;
    case WakeReason::kTimedOut:
      return false;
    case WakeReason::kInterrupted:
      if (g->has_pending_exception()) std::rethrow_exception(g->take_pending_exception());
      return true;
    case WakeReason::kBlockedForever:
      throw LoopExit();
  }
  return true;
}

void sleep(Duration d) {
  Hub& hub = Hub::current();
  GreenletBase* g = hub.current_greenlet();
  if (g->has_pending_exception()) std::rethrow_exception(g->take_pending_exception());
  if (d <= Duration::zero()) {
    hub.yield();
    if (g->has_pending_exception()) std::rethrow_exception(g->take_pending_exception());
    return;
  }
  g->set_waiting_on("sleep");
  WaitToken token = hub.prepare_park();
  struct Clear {
    GreenletBase* g;
    ~Clear() { g->set_waiting_on(nullptr); }
  } clear{g};
  block(token, Deadline::after(d));
}

namespace {

struct IoWait {
  ev_io io;
  WaitToken token;
};

void on_io(struct ev_loop*, ev_io* w, int) { Hub::wake(reinterpret_cast<IoWait*>(w)->token); }

bool wait_io(int fd, int events, std::optional<Duration> timeout) {
  Hub& hub = Hub::current();
  throw_if_pending();
  GreenletBase* g = hub.current_greenlet();
  IoWait w;
  ev_io_init(&w.io, on_io, fd, events);
  w.token = hub.prepare_park();
  ev_io_start(hub.loop(), &w.io);
  g->set_waiting_on(events == EV_READ ? "wait_readable" : "wait_writable");
  struct Stop {
    Hub& hub;
    IoWait& w;
    GreenletBase* g;
    ~Stop() {
      ev_io_stop(hub.loop(), &w.io);
      g->set_waiting_on(nullptr);
    }
  } stop{hub, w, g};
  return block(w.token, deadline_from(timeout));
}

}  // namespace

bool wait_readable(int fd, std::optional<Duration> timeout) {
  return wait_io(fd, EV_READ, timeout);
}

bool wait_writable(int fd, std::optional<Duration> timeout) {
  return wait_io(fd, EV_WRITE, timeout);
}

}  // namespace greenhub
