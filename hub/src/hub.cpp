// The hub: scheduling, switching and parking (see runtime.hpp for the
// contract).
//
// Scheduling
//   A greenlet that parks hands the CPU directly to the next runnable
//   greenlet (one jump, as Go's scheduler does) while the hub's direct-switch
//   budget lasts; when the ready queue is empty or the budget is spent, it
//   switches to the hub greenlet, which polls libev (without blocking if
//   anything is runnable, else until an event) and resumes the ready queue.
//   The budget bounds how long I/O and timers can be starved by greenlets
//   that keep waking each other.
//
// Dead greenlets
//   A finished greenlet cannot free the stack it is running on: it switches
//   away for the last time, and the greenlet that resumes releases the dead
//   one's stack and the hub's reference to it (after_resume).
#include <cxxabi.h>
#include <pthread.h>
#include <time.h>
#include <ev.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "context_switch.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/trace.hpp"
#include "stack_overflow.hpp"
#include "stack_pool.hpp"

namespace greenhub {
namespace detail {

struct EhGlobals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};

inline EhGlobals* eh_globals() {
  return reinterpret_cast<EhGlobals*>(abi::__cxa_get_globals());
}

// Direct switches. A greenlet that parks or yields switches straight to
// the next ready greenlet, skipping the hub, as long as the loop was polled
// (an epoll_wait system call, 1-2 us on this VM) less than kMaxPollInterval
// ago; the clock is read only once per kSwitchesPerClockCheck direct
// switches (a vDSO call, ~35 ns). So ready greenlets delay I/O and timers
// by at most max(kMaxPollInterval, kSwitchesPerClockCheck runs of a
// greenlet): for greenlets that make system calls, the 1,024 runs the hub
// always allowed; for light ones (a sleep(0) ping-pong), 200 us instead of
// ~11 us, which takes ~1 ns of polling off a yield. Polling more often costs
// more than the poll: libev's level-triggered epoll reports again every
// descriptor that is still readable, so with 10,000 busy connections a
// poll every 128 switches made the C++ API echo server 3-4x slower.
constexpr int kSwitchesPerClockCheck = 1024;
constexpr uint64_t kMaxPollIntervalNs = 200'000;
constexpr size_t kHubStackSize = 256 * 1024;
// Freed stacks whose pages a hub gives back per turn of its loop (merged
// into one madvise per run of adjacent stacks): ~20 us of work, so that
// ready greenlets, timers and I/O never wait long behind it. An empty ready
// queue is no sign of idleness (a burst of timers expires over many turns:
// 64 stacks per turn made 100,000 wake-ups 200 ms later), so the batch is
// the same in every turn; an idle hub keeps turning while excess remains.
constexpr size_t kTrimBatchStacks = 8;

std::atomic<uint64_t> next_greenlet_id{1};
std::atomic<uint64_t> next_hub_id{0};
std::atomic<size_t> configured_stack_size{0};
// initial-exec: the hub pointer is one %fs-relative load, not a
// __tls_get_addr call (libgreenhub is linked at start-up, not dlopen'ed
// late, so its TLS is in the static block).
__attribute__((tls_model("initial-exec"))) constinit thread_local Hub* tls_hub = nullptr;

struct HubAccess {
  static void trampoline(transfer_t t);
  static void run_greenlet(GreenletBase* self);
  static void on_async(struct ev_loop* loop, ev_async* w, int revents);
};

struct ThreadHubOwner {
  Hub* hub = nullptr;
  ~ThreadHubOwner() { delete hub; }
};
__attribute__((tls_model("initial-exec"))) thread_local ThreadHubOwner tls_hub_owner;

size_t parse_size(const char* text, bool* ok) {
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text, &end, 10);
  *ok = errno == 0 && end != text;
  if (!*ok) return 0;
  switch (*end) {
    case 'k': case 'K': value *= 1024; ++end; break;
    case 'm': case 'M': value *= 1024 * 1024; ++end; break;
    case 'g': case 'G': value *= 1024ull * 1024 * 1024; ++end; break;
    default: break;
  }
  if (*end == 'i' && end[-1] != '\0') ++end;  // KiB, MiB
  if (*end == 'B' || *end == 'b') ++end;
  *ok = *end == '\0';
  return static_cast<size_t>(value);
}

}  // namespace detail

using detail::tls_hub;

// ---------------------------------------------------------------------------
// The hub's own greenlets.

class Hub::MainGreenlet final : public GreenletBase {
 protected:
  void run() override {}
  void finished(std::exception_ptr) override {}
};

class Hub::HubGreenlet final : public GreenletBase {
 public:
  explicit HubGreenlet(Hub* hub) : hub_(hub) {}

 protected:
  void run() override { hub_->hub_loop(); }
  void finished(std::exception_ptr) override {}

 private:
  Hub* hub_;
};

struct Hub::Watchers {
  ev_async async;
};

// ---------------------------------------------------------------------------
// GreenletBase

GreenletBase::GreenletBase() : id_(detail::next_greenlet_id.fetch_add(1)) {}

GreenletBase::~GreenletBase() = default;

void GreenletBase::set_stack_size(size_t bytes) {
  if (state_ == State::kNew && !scheduled_start_) stack_size_ = bytes;
}

void GreenletBase::start() {
  if (state_ != State::kNew || scheduled_start_) return;
  Hub& hub = Hub::current();
  hub.attach(this);
  hub.schedule_local(this);
}

void GreenletBase::start_on(Hub& hub) {
  if (&hub == tls_hub) {
    start();
    return;
  }
  std::shared_ptr<GreenletBase> self = shared_from_this();
  if (trace::on()) trace::greenlet_spawn_requested(*this, hub, tls_hub ? tls_hub->current_->id() : 0);
  scheduled_start_ = true;
  hub_ = &hub;
  hub.post([self] {
    self->scheduled_start_ = false;
    self->start();
  });
}

void GreenletBase::start_later(Duration delay) {
  if (state_ != State::kNew || scheduled_start_) return;
  struct StartTimer {
    ev_timer timer;
    std::shared_ptr<GreenletBase> greenlet;
  };
  Hub& hub = Hub::current();
  scheduled_start_ = true;
  hub_ = &hub;
  auto* t = new StartTimer{};
  t->greenlet = shared_from_this();
  ev_timer_init(&t->timer, [](struct ev_loop* loop, ev_timer* w, int) {
    auto* st = reinterpret_cast<StartTimer*>(w);
    ev_timer_stop(loop, w);
    std::shared_ptr<GreenletBase> g = std::move(st->greenlet);
    delete st;
    g->scheduled_start_ = false;
    if (g->state_ == State::kNew) g->start();  // not if killed meanwhile
  }, std::chrono::duration<double>(delay).count(), 0.);
  ev_now_update(hub.loop());
  ev_timer_start(hub.loop(), &t->timer);
}

void GreenletBase::finish_unstarted(std::exception_ptr error) {
  if (state_ != State::kNew) return;
  state_ = State::kDead;
  finished(std::move(error));
  auto callbacks = std::move(death_callbacks_);
  for (auto& cb : callbacks) cb();
}

void GreenletBase::set_pending_exception(std::exception_ptr e, const void* source) {
  pending_exception_ = std::move(e);
  pending_source_ = source;
}

void GreenletBase::clear_pending_exception(const void* source) {
  if (pending_exception_ != nullptr && pending_source_ == source) {
    pending_exception_ = nullptr;
    pending_source_ = nullptr;
  }
}

std::exception_ptr GreenletBase::take_pending_exception() {
  pending_source_ = nullptr;
  return std::exchange(pending_exception_, nullptr);
}

void GreenletBase::on_death(std::function<void()> callback) {
  if (state_ == State::kDead) {
    callback();
    return;
  }
  death_callbacks_.push_back(std::move(callback));
}

// ---------------------------------------------------------------------------
// Switching

void detail::HubAccess::run_greenlet(GreenletBase* self) {
  std::exception_ptr error;
  try {
    // Killed after start() but before its first switch: it never runs.
    if (self->pending_exception_ != nullptr) std::rethrow_exception(self->take_pending_exception());
    if (trace::on()) trace::greenlet_started(*self);
    self->run();
  } catch (abi::__forced_unwind&) {
    // A thread-exit unwind must not be swallowed; the preload never lets
    // one reach a greenlet's base.
    throw;
  } catch (...) {
    error = std::current_exception();
  }
  if (trace::on()) trace::greenlet_exited(*self, error != nullptr);
  self->finished(std::move(error));
  auto callbacks = std::move(self->death_callbacks_);
  for (auto& cb : callbacks) cb();
}

void detail::HubAccess::trampoline(transfer_t t) {
  Hub* hub = tls_hub;
  hub->after_resume(t.data, t.fctx);
  run_greenlet(hub->current_);
  hub->exit_current();
}

void Hub::switch_to(GreenletBase* next) {
  GreenletBase* prev = current_;
  if (next == prev) {
    prev->state_ = GreenletBase::State::kRunning;
    return;
  }
  prev->saved_errno_ = *errno_location_;
  auto* eh = static_cast<detail::EhGlobals*>(eh_globals_);
  prev->saved_eh_globals_[0] = eh->caught_exceptions;
  prev->saved_eh_globals_[1] = reinterpret_cast<void*>(static_cast<uintptr_t>(eh->uncaught_exceptions));
  next->state_ = GreenletBase::State::kRunning;
  current_ = next;
  counters_.switches.store(counters_.switches.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
  detail::annotate_switch_start(
      prev->state_ == GreenletBase::State::kDead ? nullptr : &prev->asan_fake_stack_,
      next->asan_stack_bottom_, next->asan_stack_size_);
  detail::transfer_t t =
      detail::jump_context(static_cast<detail::fcontext_t>(next->context_), prev);
  after_resume(t.data, t.fctx);
}

void Hub::after_resume(void* from_greenlet, void* from_context) {
  auto* from = static_cast<GreenletBase*>(from_greenlet);
  from->context_ = from_context;
  GreenletBase* self = current_;
  detail::annotate_switch_finish(self->asan_fake_stack_, &from->asan_stack_bottom_,
                                 &from->asan_stack_size_);
  auto* eh = static_cast<detail::EhGlobals*>(eh_globals_);
  eh->caught_exceptions = self->saved_eh_globals_[0];
  eh->uncaught_exceptions =
      static_cast<unsigned int>(reinterpret_cast<uintptr_t>(self->saved_eh_globals_[1]));
  *errno_location_ = self->saved_errno_;
  if (from->state_ == GreenletBase::State::kDead) release_dead(from);
}

// The slow half of the direct-switch check (see kSwitchesPerClockCheck).
__attribute__((noinline)) bool Hub::poll_not_due() {
  if (trace::now_ns() - last_poll_ns_ >= detail::kMaxPollIntervalNs) return false;
  direct_switch_budget_ = detail::kSwitchesPerClockCheck;
  return true;
}

void Hub::switch_away() {
  GreenletBase* next;
  if (ready_head_ != nullptr && current_ != hub_greenlet_.get() &&
      (--direct_switch_budget_ > 0 || poll_not_due())) {
    next = ready_head_;
    ready_head_ = next->next_ready_;
    if (ready_head_ == nullptr) ready_tail_ = nullptr;
    next->next_ready_ = nullptr;
  } else {
    next = hub_greenlet_.get();
  }
  switch_to(next);
}

void Hub::exit_current() {
  GreenletBase* g = current_;
  g->state_ = GreenletBase::State::kDead;
  detach(g);
  counters_.finished.fetch_add(1, std::memory_order_relaxed);
  switch_away();
  std::fprintf(stderr, "greenhub: a dead greenlet was resumed\n");
  std::abort();
}

void Hub::release_dead(GreenletBase* g) {
  detail::StackPool::instance().release(
      detail::Stack{g->stack_base_, g->stack_mapping_size_, true});
  g->stack_base_ = nullptr;
  g->context_ = nullptr;
  std::shared_ptr<GreenletBase> last = std::move(g->self_ref_);
  // `last` may be the final reference: the greenlet is destroyed here, on
  // the resumed greenlet's stack.
}

void Hub::attach(GreenletBase* g) {
  g->hub_ = this;
  size_t size = g->stack_size_ != 0 ? g->stack_size_ : default_stack_size();
  detail::Stack stack = detail::StackPool::instance().allocate(size);
  g->stack_base_ = stack.base;
  g->stack_size_ = stack.size;
  g->stack_mapping_size_ = stack.size;
  g->asan_stack_bottom_ = stack.base;
  g->asan_stack_size_ = stack.size;
  void* top = static_cast<char*>(stack.base) + stack.size;
  g->context_ = detail::make_fcontext(top, stack.size, &detail::HubAccess::trampoline);
  g->self_ref_ = g->shared_from_this();
  g->live_prev_ = nullptr;
  g->live_next_ = live_head_;
  if (live_head_ != nullptr) live_head_->live_prev_ = g;
  live_head_ = g;
  counters_.spawned.fetch_add(1, std::memory_order_relaxed);
  if (trace::on()) trace::greenlet_spawned(*g, *this, current_ != nullptr ? current_->id() : 0);
}

void Hub::detach(GreenletBase* g) {
  if (g->live_prev_ != nullptr) g->live_prev_->live_next_ = g->live_next_;
  else if (live_head_ == g) live_head_ = g->live_next_;
  if (g->live_next_ != nullptr) g->live_next_->live_prev_ = g->live_prev_;
  g->live_prev_ = g->live_next_ = nullptr;
}

// ---------------------------------------------------------------------------
// Scheduling and parking

void Hub::schedule_local(GreenletBase* g) {
  g->state_ = GreenletBase::State::kRunnable;
  g->next_ready_ = nullptr;
  if (ready_tail_ != nullptr) ready_tail_->next_ready_ = g;
  else ready_head_ = g;
  ready_tail_ = g;
}

void Hub::schedule_remote(GreenletBase* g) {
  {
    std::lock_guard<SpinLock> lock(remote_lock_);
    g->next_ready_ = nullptr;
    if (remote_tail_ != nullptr) remote_tail_->next_ready_ = g;
    else remote_head_ = g;
    remote_tail_ = g;
  }
  ev_async_send(loop_, &watchers_->async);
}

void Hub::post(std::function<void()> fn) {
  {
    std::lock_guard<SpinLock> lock(remote_lock_);
    posted_.push_back(std::move(fn));
  }
  ev_async_send(loop_, &watchers_->async);
}

void Hub::drain_remote() {
  GreenletBase* head;
  std::vector<std::function<void()>> posted;
  {
    std::lock_guard<SpinLock> lock(remote_lock_);
    head = remote_head_;
    remote_head_ = remote_tail_ = nullptr;
    posted.swap(posted_);
  }
  while (head != nullptr) {
    GreenletBase* next = head->next_ready_;
    schedule_local(head);
    head = next;
  }
  for (auto& fn : posted) fn();
}

WaitToken Hub::prepare_park() {
  GreenletBase* g = current_;
  uint64_t sequence = (g->park_word_.load(std::memory_order_relaxed) >> 1) + 1;
  g->park_word_.store((sequence << 1) | 1, std::memory_order_release);
  return WaitToken{g, sequence};
}

bool Hub::wake(WaitToken token, WakeReason reason) {
  GreenletBase* g = token.greenlet;
  uint64_t armed = (token.sequence << 1) | 1;
  if (!g->park_word_.compare_exchange_strong(armed, token.sequence << 1,
                                             std::memory_order_acq_rel)) {
    return false;
  }
  g->wake_reason_ = reason;
  Hub* hub = g->hub_;
  if (hub == tls_hub) hub->schedule_local(g);
  else hub->schedule_remote(g);
  return true;
}

bool Hub::interrupt(GreenletBase* g) {
  uint64_t word = g->park_word_.load(std::memory_order_acquire);
  if ((word & 1) == 0) return false;
  return wake(WaitToken{g, word >> 1}, WakeReason::kInterrupted);
}

bool Hub::cancel_park(WaitToken token) {
  uint64_t armed = (token.sequence << 1) | 1;
  if (token.greenlet->park_word_.compare_exchange_strong(armed, token.sequence << 1,
                                                         std::memory_order_acq_rel)) {
    return false;
  }
  // A waker got there first and scheduled us: consume that wake-up.
  current_->state_ = GreenletBase::State::kParked;
  switch_away();
  return true;
}

namespace {

struct ParkTimer {
  ev_timer timer;
  WaitToken token;
};

struct ParkPeriodic {
  ev_periodic periodic;
  WaitToken token;
};

void on_park_timer(struct ev_loop*, ev_timer* w, int) {
  Hub::wake(reinterpret_cast<ParkTimer*>(w)->token, WakeReason::kTimedOut);
}

void on_park_periodic(struct ev_loop*, ev_periodic* w, int) {
  Hub::wake(reinterpret_cast<ParkPeriodic*>(w)->token, WakeReason::kTimedOut);
}

}  // namespace

WakeReason Hub::park(WaitToken token, Deadline deadline) {
  GreenletBase* g = current_;
  ParkTimer timer;
  ParkPeriodic periodic;
  bool timer_active = false;
  bool periodic_active = false;
  if (deadline.kind == Deadline::Kind::kRelative) {
    if (deadline.seconds <= 0) {
      if (!cancel_park(token)) return WakeReason::kTimedOut;
      return g->wake_reason_;
    }
    ev_now_update(loop_);
    ev_timer_init(&timer.timer, on_park_timer, deadline.seconds, 0.);
    timer.token = token;
    ev_timer_start(loop_, &timer.timer);
    timer_active = true;
  } else if (deadline.kind == Deadline::Kind::kWallClock) {
    ev_now_update(loop_);
    if (deadline.seconds <= ev_now(loop_)) {
      if (!cancel_park(token)) return WakeReason::kTimedOut;
      return g->wake_reason_;
    }
    ev_periodic_init(&periodic.periodic, on_park_periodic, deadline.seconds, 0., nullptr);
    periodic.token = token;
    ev_periodic_start(loop_, &periodic.periodic);
    periodic_active = true;
  }
  g->state_ = GreenletBase::State::kParked;
  timespec since;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &since);  // vDSO, a few ns
  g->parked_since_ns_ = since.tv_sec * 1000000000LL + since.tv_nsec;
  const uint64_t trace_start = trace::on() ? trace::now_ns() : 0;
  const int trace_fd = trace_start != 0 ? trace::take_wait_fd(*g) : -1;
  switch_away();
  if (trace::on() && trace_start != 0) {
    trace::park_done(*this, *g, g->waiting_on(), trace_fd, trace_start,
                     static_cast<int>(g->wake_reason_));
  }
  if (timer_active) ev_timer_stop(loop_, &timer.timer);
  if (periodic_active) ev_periodic_stop(loop_, &periodic.periodic);
  return g->wake_reason_;
}

void Hub::yield() {
  GreenletBase* g = current_;
  schedule_local(g);
  switch_away();
}

void Hub::yield_to_loop() {
  GreenletBase* g = current_;
  if (g == hub_greenlet_.get()) return;
  schedule_local(g);
  switch_to(hub_greenlet_.get());
}

// ---------------------------------------------------------------------------
// The loop

bool Hub::nothing_can_wake(bool loop_alive) {
  if (ready_head_ != nullptr || loop_alive) return false;
  std::lock_guard<SpinLock> lock(remote_lock_);
  return remote_head_ == nullptr && posted_.empty();
}

void Hub::hub_loop() {
  for (;;) {
    direct_switch_budget_ = detail::kSwitchesPerClockCheck;
    last_poll_ns_ = trace::now_ns();
    drain_remote();
    // Pages of freed stacks are given back here, a bounded batch per turn,
    // never on a greenlet's exit path; while some remain, the loop polls
    // instead of sleeping, so that an idle hub finishes the job.
    detail::StackPool& stacks = detail::StackPool::instance();
    const bool trimming = stacks.has_excess() && stacks.trim(detail::kTrimBatchStacks);
    // ev_run returns whether any referenced watcher is still active.
    const bool loop_alive =
        ev_run(loop_, ready_head_ != nullptr || trimming ? EVRUN_NOWAIT : EVRUN_ONCE) != 0;
    counters_.loop_iterations.store(
        counters_.loop_iterations.load(std::memory_order_relaxed) + 1,
        std::memory_order_relaxed);
    drain_remote();
    if (ready_head_ != nullptr) {
      GreenletBase* next = ready_head_;
      ready_head_ = next->next_ready_;
      if (ready_head_ == nullptr) ready_tail_ = nullptr;
      next->next_ready_ = nullptr;
      switch_to(next);
      continue;
    }
    if (nothing_can_wake(loop_alive)) {
      // Everyone is parked on something that can never happen. Like
      // gevent's LoopExit, the main greenlet is told.
      if (!interrupt_main_blocked()) {
        std::fprintf(stderr, "greenhub: hub %llu: every greenlet is blocked forever\n",
                     static_cast<unsigned long long>(id_));
        std::abort();
      }
    }
  }
}

bool Hub::interrupt_main_blocked() {
  GreenletBase* m = main_.get();
  uint64_t word = m->park_word_.load(std::memory_order_acquire);
  if ((word & 1) == 0) return false;
  return wake(WaitToken{m, word >> 1}, WakeReason::kBlockedForever);
}

void detail::HubAccess::on_async(struct ev_loop*, ev_async*, int) {
  // Nothing to do here: the hub drains its remote queue after every poll.
}

void Hub::run_forever() {
  set_keep_alive(true);
  forever_stop_ = false;
  while (!forever_stop_) {
    forever_token_ = prepare_park();
    park(forever_token_);
  }
}

void Hub::stop_forever_loop() {
  post([this] {
    forever_stop_ = true;
    wake(forever_token_);
  });
}

void Hub::set_keep_alive(bool keep_alive) {
  if (keep_alive == keep_alive_) return;
  keep_alive_ = keep_alive;
  if (keep_alive) ev_ref(loop_);
  else ev_unref(loop_);
}

void Hub::add_external_wait() {
  ++external_waits_;
  ev_ref(loop_);
}

void Hub::remove_external_wait() {
  --external_waits_;
  ev_unref(loop_);
}

void Hub::lock_for_fork() { detail::StackPool::instance().lock_for_fork(); }

void Hub::unlock_after_fork() { detail::StackPool::instance().unlock_after_fork(); }

void Hub::reset_in_forked_child() {
  GreenletBase* survivor = current_;
  // Another thread may have held the lock, or been halfway through a
  // push, when fork() copied the process: start over (the old vector is
  // leaked, not destroyed).
  remote_lock_.unlock();
  remote_head_ = remote_tail_ = nullptr;
  new (&posted_) std::vector<std::function<void()>>();
  ready_head_ = ready_tail_ = nullptr;
  external_waits_ = 0;

  // A stale park word (sequence moved on, not armed) makes every token of
  // a forgotten greenlet a no-op for wake() and interrupt().
  auto forget = [](GreenletBase* g) {
    uint64_t word = g->park_word_.load(std::memory_order_relaxed);
    g->park_word_.store(((word >> 1) + 1) << 1, std::memory_order_relaxed);
  };
  if (main_.get() != survivor) forget(main_.get());
  for (GreenletBase* g = live_head_; g != nullptr;) {
    GreenletBase* next = g->live_next_;
    if (g != survivor) {
      forget(g);
      detach(g);
      // The hub's reference is leaked on purpose: the greenlet's stack
      // holds watchers of the abandoned loop and is never reused.
      new (&g->self_ref_) std::shared_ptr<GreenletBase>();
    }
    g = next;
  }

  loop_ = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | EVFLAG_NOSIGMASK);
  if (loop_ == nullptr) {
    std::fprintf(stderr, "greenhub: cannot create the hub's event loop (epoll) after fork: %s\n",
                 std::strerror(errno));
    std::abort();
  }
  (void)watchers_.release();  // still registered with the abandoned loop
  watchers_.reset(new Watchers);
  ev_async_init(&watchers_->async, &detail::HubAccess::on_async);
  ev_async_start(loop_, &watchers_->async);
  ev_unref(loop_);
  if (keep_alive_) ev_ref(loop_);
}

// ---------------------------------------------------------------------------
// Creation and destruction

Hub::Hub()
    : id_(detail::next_hub_id.fetch_add(1)),
      os_thread_(pthread_self()),
      watchers_(new Watchers),
      errno_location_(&errno),
      eh_globals_(detail::eh_globals()) {
  loop_ = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | EVFLAG_NOSIGMASK);
  if (loop_ == nullptr) {
    std::fprintf(stderr, "greenhub: cannot create the hub's event loop (epoll): %s\n",
                 std::strerror(errno));
    std::abort();
  }
  ev_async_init(&watchers_->async, &detail::HubAccess::on_async);
  ev_async_start(loop_, &watchers_->async);
  ev_unref(loop_);  // the async watcher alone does not keep the hub alive

  main_ = std::make_shared<MainGreenlet>();
  main_->hub_ = this;
  main_->is_main_ = true;
  main_->state_ = GreenletBase::State::kRunning;
  main_->name_ = "main";
  current_ = main_.get();

  auto hub_greenlet = std::make_shared<HubGreenlet>(this);
  hub_greenlet->is_hub_ = true;
  hub_greenlet->name_ = "hub";
  hub_greenlet->stack_size_ = detail::kHubStackSize;
  hub_greenlet_ = hub_greenlet;
  attach(hub_greenlet_.get());
  detach(hub_greenlet_.get());  // the hub greenlet is not a user greenlet
  hub_greenlet_->self_ref_.reset();

  alt_stack_ = detail::install_overflow_detection();
}

Hub::~Hub() {
  if (tls_hub == this) tls_hub = nullptr;
  if (current_ != main_.get()) {
    // Destroyed from inside a greenlet (exit() called on a greenlet's
    // stack): freeing stacks now would pull the floor from under us.
    return;
  }
  // Parked greenlets are discarded without unwinding their stacks.
  while (live_head_ != nullptr) {
    GreenletBase* g = live_head_;
    detach(g);
    detail::StackPool::instance().release(detail::Stack{g->stack_base_, g->stack_mapping_size_, true});
    g->stack_base_ = nullptr;
    std::shared_ptr<GreenletBase> drop = std::move(g->self_ref_);
  }
  detail::StackPool::instance().release(
      detail::Stack{hub_greenlet_->stack_base_, hub_greenlet_->stack_mapping_size_, true});
  ev_async_stop(loop_, &watchers_->async);
  ev_loop_destroy(loop_);
  detail::release_alt_stack(alt_stack_);
}

Hub& Hub::create_current() {
  if (tls_hub != nullptr) return *tls_hub;
  Hub* hub = new Hub();
  detail::tls_hub_owner.hub = hub;
  tls_hub = hub;
  return *hub;
}


void Hub::persist_current() {
  current();
  detail::tls_hub_owner.hub = nullptr;
}

std::shared_ptr<GreenletBase> Hub::current_ref() const { return current_->shared_from_this(); }

std::vector<std::shared_ptr<GreenletBase>> Hub::live_greenlets() const {
  std::vector<std::shared_ptr<GreenletBase>> out;
  out.push_back(main_);
  for (GreenletBase* g = live_head_; g != nullptr; g = g->live_next_)
    out.push_back(g->shared_from_this());
  return out;
}

size_t Hub::default_stack_size() {
  size_t size = detail::configured_stack_size.load(std::memory_order_relaxed);
  if (size != 0) return size;
  size = 256 * 1024;
  if (const char* env = std::getenv("GREENHUB_STACK_SIZE"); env != nullptr && *env != '\0') {
    bool ok = false;
    size_t parsed = detail::parse_size(env, &ok);
    if (ok && parsed >= detail::StackPool::kMinStackSize && parsed <= (1ull << 30)) {
      size = parsed;
    } else {
      std::fprintf(stderr,
                   "greenhub: GREENHUB_STACK_SIZE=%s is not a stack size between 16K and 1G "
                   "(like 256K or 1M); using 256K\n",
                   env);
    }
  }
  detail::configured_stack_size.store(size, std::memory_order_relaxed);
  return size;
}

void Hub::set_default_stack_size(size_t bytes) {
  detail::configured_stack_size.store(bytes, std::memory_order_relaxed);
}

namespace detail {
thread_local int runtime_thread_scopes = 0;
}

RuntimeThreadScope::RuntimeThreadScope() { ++detail::runtime_thread_scopes; }
RuntimeThreadScope::~RuntimeThreadScope() { --detail::runtime_thread_scopes; }
bool Hub::creating_runtime_thread() { return detail::runtime_thread_scopes > 0; }

GreenletBase& current_greenlet() { return *Hub::current().current_greenlet(); }

}  // namespace greenhub
