// EINTR for green waits (see signal_interrupt.hpp for the mechanism).
#include "signal_interrupt.hpp"

#include <ev.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstddef>

#include "green_thread.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_handlers.hpp"
#include "signal_mask.hpp"

namespace greenhub::preload {

// The interruptible waits of one hub, and its interrupt watcher. Lives on
// the hub's OS thread; only ever touched there (the trampoline only reads
// `loop` and `async` to send the watcher).
struct HubInterrupts {
  ev_async async;  // first member: the callback casts the watcher back
  struct ev_loop* loop = nullptr;
  Hub* hub = nullptr;
  GreenletBase* receiver = nullptr;
  InterruptibleWait* head = nullptr;

  static void on_async(struct ev_loop*, ev_async* w, int);
  // Whether a handler run since `wait` began concerns it (on the hub's thread).
  bool concerned(const InterruptibleWait* wait) const;
  void interrupt(InterruptibleWait* wait) {
    if (!wait->interrupted_ && Hub::wake(wait->token_)) wait->interrupted_ = true;
  }
  InterruptibleWait* wait_of(GreenletBase* g) {
    for (InterruptibleWait* w = head; w != nullptr; w = w->next_) {
      if (w->token_.greenlet == g) return w;
    }
    return nullptr;
  }
  // Interrupts target's wait for a signal sent to it, whose handler then
  // runs on the target as the wait ends. Returns false if the target is in
  // no wait that signal interrupts.
  bool interrupt_for_signal(GreenletBase* target, int sig, const sigval* value);
};

namespace {

// Per OS thread, plain data (initial-exec TLS, no constructor): the
// trampoline reads and writes it from signal handlers.
struct ThreadSignalRuns {
  std::atomic<uint64_t> all_runs;         // every handler run on the thread
  std::atomic<uint64_t> runs;             // handler runs that concern the receiver
  std::atomic<uint64_t> nonrestart_runs;  // ... of handlers without SA_RESTART
  std::atomic<HubInterrupts*> interrupts;
  std::atomic<int> delivering_for_green;  // > 0 during raise_on_this_thread
};
constinit thread_local ThreadSignalRuns thread_runs{};

// Owns the thread's HubInterrupts. Constructed after the thread's hub, so
// destroyed before it when a thread with its own hub ends
// (GREENHUB_GREEN_THREADS=0): a handler that runs after that finds no
// watcher instead of a destroyed loop.
struct InterruptsOwner {
  HubInterrupts* owned = nullptr;
  ~InterruptsOwner() {
    if (owned == nullptr) return;
    thread_runs.interrupts.store(nullptr, std::memory_order_release);
    if (owned->loop == owned->hub->loop()) {  // not abandoned by a fork
      ev_ref(owned->loop);
      ev_async_stop(owned->loop, &owned->async);
    }
    delete owned;
  }
};

HubInterrupts& interrupts_of(Hub& hub) {
  if (HubInterrupts* in = thread_runs.interrupts.load(std::memory_order_relaxed)) return *in;
  thread_local InterruptsOwner owner;
  auto* in = new HubInterrupts();
  in->loop = hub.loop();
  in->hub = &hub;
  in->receiver = hub.main_greenlet();
  ev_async_init(&in->async, &HubInterrupts::on_async);
  ev_async_start(in->loop, &in->async);
  ev_unref(in->loop);  // never keeps the hub alive
  owner.owned = in;
  thread_runs.interrupts.store(in, std::memory_order_release);
  return *in;
}

sigset_t just(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return set;
}

}  // namespace

bool HubInterrupts::concerned(const InterruptibleWait* wait) const {
  if (wait->token_.greenlet != receiver) return false;
  if (wait->kind_ == InterruptibleWait::Kind::kSleep) {
    return thread_runs.runs.load(std::memory_order_relaxed) > wait->runs_at_start_;
  }
  return thread_runs.nonrestart_runs.load(std::memory_order_relaxed) > wait->nonrestart_runs_at_start_;
}

void HubInterrupts::on_async(struct ev_loop*, ev_async* w, int) {
  auto* self = reinterpret_cast<HubInterrupts*>(w);
  for (InterruptibleWait* wait = self->head; wait != nullptr; wait = wait->next_) {
    if (self->concerned(wait)) self->interrupt(wait);
  }
}

bool InterruptibleWait::interrupted() const { return interrupted_ || owner_->concerned(this); }

// Whether `sig` is blocked while `wait` waits: by the mask the call waits
// with, or else by the program's mask of the OS thread.
static bool blocked_during(const SignalScope& scope, int sig) {
  sigset_t mask;
  if (scope.wait_mask != nullptr) {
    mask = *scope.wait_mask;
  } else {
    program_signal_mask(&mask);
  }
  return sig != SIGKILL && sig != SIGSTOP && sigismember(&mask, sig) == 1;
}

bool HubInterrupts::interrupt_for_signal(GreenletBase* target, int sig, const sigval* value) {
  InterruptibleWait* wait = wait_of(target);
  if (wait == nullptr) return false;
  if (wait->scope_.takes != nullptr && sigismember(wait->scope_.takes, sig) == 1) {
    // Taken by the wait. One at a time: another stays pending on the OS
    // thread, where the caller's next call finds it. The waiter sees
    // taken_ even if something else woke it first (it is still inside the
    // wait: this runs on its hub's thread).
    if (wait->taken_.sig != 0) return false;
    wait->taken_.sig = sig;
    wait->taken_.has_value = value != nullptr;
    if (value != nullptr) wait->taken_.value = *value;
    Hub::wake(wait->token_);
    return true;
  }
  if (blocked_during(wait->scope_, sig)) return false;
  bool restart = false;
  if (!program_handles_signal(sig, &restart)) return false;
  if (restart && wait->kind_ == InterruptibleWait::Kind::kRestartable) return false;
  interrupt(wait);
  if (!wait->interrupted_) return false;
  wait->directed_signal_ = sig;
  wait->directed_has_value_ = value != nullptr;
  if (value != nullptr) wait->directed_value_ = *value;
  return true;
}

void note_handler_run(int, const siginfo_t* info, bool restart) {
  thread_runs.all_runs.fetch_add(1, std::memory_order_relaxed);
  if (thread_runs.delivering_for_green.load(std::memory_order_relaxed) > 0 && info != nullptr &&
      (info->si_code == SI_TKILL || info->si_code == SI_QUEUE)) {
    return;  // a green thread's own signal: it concerns no waiting thread
  }
  thread_runs.runs.fetch_add(1, std::memory_order_relaxed);
  if (!restart) thread_runs.nonrestart_runs.fetch_add(1, std::memory_order_relaxed);
  if (HubInterrupts* in = thread_runs.interrupts.load(std::memory_order_acquire)) {
    ev_async_send(in->loop, &in->async);
  }
}

InterruptibleWait::InterruptibleWait(Hub& hub, WaitToken token, Kind kind, SignalScope scope)
    : owner_(&interrupts_of(hub)),
      token_(token),
      kind_(kind),
      scope_(scope),
      runs_at_start_(thread_runs.runs.load(std::memory_order_relaxed)),
      nonrestart_runs_at_start_(thread_runs.nonrestart_runs.load(std::memory_order_relaxed)) {
  next_ = owner_->head;
  if (next_ != nullptr) next_->prev_ = this;
  owner_->head = this;
}

InterruptibleWait::~InterruptibleWait() {
  if (prev_ != nullptr) prev_->next_ = next_;
  else if (owner_->head == this) owner_->head = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  if (directed_signal_ != 0) {
    raise_on_this_thread(directed_signal_, directed_has_value_ ? &directed_value_ : nullptr,
                         scope_.wait_mask);
  }
}

bool deliver_pending_with_mask(const sigset_t* mask) {
  sigset_t pending;
  if (sigpending(&pending) != 0) return false;
  bool any = false;
  for (int sig = 1; sig < NSIG && !any; ++sig) {
    any = sigismember(&pending, sig) == 1 && sigismember(mask, sig) != 1;
  }
  if (!any) return false;
  const uint64_t before = thread_runs.all_runs.load(std::memory_order_relaxed);
  sigset_t previous;
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, mask, &previous);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
  return thread_runs.all_runs.load(std::memory_order_relaxed) != before;
}

int raise_on_this_thread(int sig, const sigval* value, const sigset_t* deliver_mask) {
  thread_runs.delivering_for_green.fetch_add(1, std::memory_order_relaxed);
  int rc;
  if (value != nullptr) {
    rc = GREENHUB_REAL(pthread_sigqueue)(GREENHUB_REAL(pthread_self)(), sig, *value);
  } else {
    rc = GREENHUB_REAL(raise)(sig) == 0 ? 0 : errno;
  }
  if (rc == 0 && deliver_mask != nullptr) {
    deliver_pending_with_mask(deliver_mask);
  } else if (rc == 0 && runtime_blocks_signal(sig)) {
    // Pending on this thread: delivered when unblocked, before this
    // returns, as a raise() is delivered before it returns.
    sigset_t one = just(sig), previous;
    GREENHUB_REAL(pthread_sigmask)(SIG_UNBLOCK, &one, &previous);
    GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
  }
  thread_runs.delivering_for_green.fetch_sub(1, std::memory_order_relaxed);
  return rc;
}

void deliver_signal_to_green_thread(GreenletBase* target, int sig, const sigval* value) {
  Hub* hub = target->hub();
  if (hub == nullptr) return;
  std::shared_ptr<GreenletBase> keep = target->shared_from_this();
  const bool has_value = value != nullptr;
  const sigval queued = has_value ? *value : sigval{};
  hub->post([keep, sig, has_value, queued] {
    const sigval* value = has_value ? &queued : nullptr;
    HubInterrupts* in = thread_runs.interrupts.load(std::memory_order_relaxed);
    if (in != nullptr && in->interrupt_for_signal(keep.get(), sig, value)) return;
    raise_on_this_thread(sig, value);
  });
}

void set_signal_receiver(Hub& hub, GreenletBase* receiver) { interrupts_of(hub).receiver = receiver; }

void reset_signal_interrupts_in_forked_child() {
  // The watcher was started on the abandoned loop; the waits registered
  // there belonged to forgotten greenlets. The old record is leaked (its
  // owner sees the loop changed and leaves it alone).
  thread_runs.interrupts.store(nullptr, std::memory_order_relaxed);
}

}  // namespace greenhub::preload
