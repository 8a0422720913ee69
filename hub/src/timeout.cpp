#include "greenhub/timeout.hpp"

#include <ev.h>

#include <cstdio>
#include <string>

namespace greenhub {

struct Timeout::State : std::enable_shared_from_this<Timeout::State> {
  ev_timer timer;  // timer.data points back at the State
  Duration duration{};
  Hub* hub = nullptr;
  std::weak_ptr<GreenletBase> target;
  bool active = false;
  std::string what;

  static void on_timeout(struct ev_loop* loop, ev_timer* w, int);
};

Timeout::Timeout(Duration duration, bool start_now)
    : state_(std::make_shared<State>()), owner_(true) {
  state_->duration = duration;
  char buf[64];
  std::snprintf(buf, sizeof buf, "greenhub::Timeout (%.6g seconds)",
                std::chrono::duration<double>(duration).count());
  state_->what = buf;
  if (start_now) start();
}

Timeout::Timeout(const Timeout& other) : state_(other.state_), owner_(false) {}

Timeout::Timeout(Timeout&& other) noexcept : state_(other.state_), owner_(other.owner_) {
  other.owner_ = false;
}

Timeout::~Timeout() {
  if (owner_) cancel();
}

void Timeout::State::on_timeout(struct ev_loop* loop, ev_timer* w, int) {
  auto* state = static_cast<Timeout::State*>(w->data);
  ev_timer_stop(loop, w);
  state->active = false;
  std::shared_ptr<GreenletBase> target = state->target.lock();
  if (!target || target->dead()) return;
  // The exception carries a non-owning copy of the Timeout.
  std::exception_ptr e = std::make_exception_ptr(Timeout(state->shared_from_this()));
  target->set_pending_exception(std::move(e), state);
  Hub::interrupt(target.get());
}

void Timeout::start() {
  State* s = state_.get();
  Hub& hub = Hub::current();
  if (s->active) ev_timer_stop(s->hub->loop(), &s->timer);
  s->hub = &hub;
  s->target = hub.current_ref();
  ev_timer_init(&s->timer, &State::on_timeout,
                std::chrono::duration<double>(s->duration).count(), 0.);
  s->timer.data = s;
  ev_now_update(hub.loop());
  ev_timer_start(hub.loop(), &s->timer);
  s->active = true;
}

void Timeout::cancel() {
  State* s = state_.get();
  if (s->active) {
    ev_timer_stop(s->hub->loop(), &s->timer);
    s->active = false;
  }
  if (std::shared_ptr<GreenletBase> target = s->target.lock()) {
    target->clear_pending_exception(s);
  }
}

bool Timeout::pending() const { return state_->active; }

Duration Timeout::duration() const { return state_->duration; }

const char* Timeout::what() const noexcept { return state_->what.c_str(); }

}  // namespace greenhub
