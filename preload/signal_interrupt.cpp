// EINTR for green waits (see signal_interrupt.hpp for the mechanism).
#include "signal_interrupt.hpp"

#include <ev.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <vector>

#include "green_thread.hpp"
#include "signal_mask.hpp"
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
  // For a signal sent to the green thread in `wait` (which does not block
  // it): a wait that takes it takes it; a wait it interrupts ends, and its
  // handler runs on the target as the wait ends. False: neither.
  bool take_for_wait(InterruptibleWait* wait, int sig, const sigval* value);
  static const sigset_t* wait_mask_of(const InterruptibleWait* wait) { return wait->scope_.wait_mask; }
  bool interrupt_for_signal(InterruptibleWait* wait, int sig, const sigval* value);
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

// The wait of `target` takes `sig` (sigwait and its kin). One at a time:
// another is held for the target, whose next call finds it. The waiter
// sees taken_ even if something else woke it first (it is still inside
// the wait: this runs on its hub's thread).
bool HubInterrupts::take_for_wait(InterruptibleWait* wait, int sig, const sigval* value) {
  if (wait->scope_.takes == nullptr || sigismember(wait->scope_.takes, sig) != 1) return false;
  if (wait->taken_.sig != 0) return false;
  wait->taken_.sig = sig;
  wait->taken_.has_value = value != nullptr;
  if (value != nullptr) wait->taken_.value = *value;
  Hub::wake(wait->token_);
  return true;
}

bool HubInterrupts::interrupt_for_signal(InterruptibleWait* wait, int sig, const sigval* value) {
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
  forget_os_signal_mask();
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

namespace {

// Sends `sig` to the calling OS thread (tgkill, or rt_tgsigqueueinfo with
// a value); 0 or an error number.
int send_to_os_thread(int sig, const sigval* value) {
  if (value != nullptr) return GREENHUB_REAL(pthread_sigqueue)(GREENHUB_REAL(pthread_self)(), sig, *value);
  return GREENHUB_REAL(pthread_kill)(GREENHUB_REAL(pthread_self)(), sig);
}

// Installs `mask` on the OS thread and puts the previous one back: the
// kernel delivers, in between, what is pending and `mask` lets through.
void install_momentarily(const sigset_t* mask) {
  sigset_t previous;
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, mask, &previous);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
}

// The signals held for the calling green thread that `mask` lets through
// are sent to its OS thread; returns whether there was any.
bool release_held_signals(const sigset_t* mask) {
  GreenThread* t = thread_with_own_mask();
  if (t == nullptr || t->pending_signals.empty()) return false;
  std::vector<PendingGreenSignal> released;
  auto& held = t->pending_signals;
  for (auto it = held.begin(); it != held.end();) {
    if (sigismember(mask, it->sig) == 1) {
      ++it;
    } else {
      released.push_back(*it);
      it = held.erase(it);
    }
  }
  if (released.empty()) return false;
  // Blocked while they are queued, so that they are delivered together
  // with `mask` installed, in the order the kernel delivers.
  sigset_t all, previous;
  sigfillset(&all);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &all, &previous);
  for (const PendingGreenSignal& p : released) send_to_os_thread(p.sig, p.has_value ? &p.value : nullptr);
  GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
  return true;
}

}  // namespace

bool deliver_pending_with_mask(const sigset_t* mask) {
  const uint64_t before = thread_runs.all_runs.load(std::memory_order_relaxed);
  thread_runs.delivering_for_green.fetch_add(1, std::memory_order_relaxed);
  bool any = release_held_signals(mask);
  sigset_t pending;
  if (GREENHUB_REAL(sigpending)(&pending) == 0) {
    for (int sig = 1; sig < NSIG && !any; ++sig) {
      any = sigismember(&pending, sig) == 1 && sigismember(mask, sig) != 1;
    }
  }
  if (any) install_momentarily(mask);
  thread_runs.delivering_for_green.fetch_sub(1, std::memory_order_relaxed);
  return thread_runs.all_runs.load(std::memory_order_relaxed) != before;
}

bool end_call_for_held_signal(const sigset_t* mask) {
  if (!holds_signal_unblocked_by(*mask)) return false;
  deliver_pending_with_mask(mask);
  errno = EINTR;
  return true;
}

int raise_on_this_thread(int sig, const sigval* value, const sigset_t* deliver_mask) {
  GreenThread* self = thread_with_own_mask();
  if (deliver_mask == nullptr && self != nullptr) {
    if (sigismember(&self->signal_mask, sig) == 1) {
      hold_signal(*self, sig, value);  // blocked: held until it unblocks or takes it
      return 0;
    }
    deliver_mask = &self->signal_mask;
  }
  thread_runs.delivering_for_green.fetch_add(1, std::memory_order_relaxed);
  const int rc = send_to_os_thread(sig, value);
  if (rc == 0 && deliver_mask != nullptr) {
    install_momentarily(deliver_mask);
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
    InterruptibleWait* wait = in != nullptr ? in->wait_of(keep.get()) : nullptr;
    if (wait != nullptr && in->take_for_wait(wait, sig, value)) return;
    // The mask the target has now: its wait's, or its own.
    sigset_t mask;
    sigemptyset(&mask);
    auto* thread = keep->tag() == kGreenThreadTag ? static_cast<GreenThread*>(keep.get()) : nullptr;
    if (wait != nullptr && HubInterrupts::wait_mask_of(wait) != nullptr) {
      mask = *HubInterrupts::wait_mask_of(wait);
    } else if (thread != nullptr) {
      signal_mask_of(*thread, &mask);
    }
    if (sigismember(&mask, sig) == 1) {
      // Blocked: held for the target (pending on the OS thread if the
      // target's mask is the OS thread's, which blocks it too).
      if (thread != nullptr && !thread->owns_os_signal_mask) hold_signal(*thread, sig, value);
      else send_to_os_thread(sig, value);
      return;
    }
    if (wait != nullptr && in->interrupt_for_signal(wait, sig, value)) return;
    raise_on_this_thread(sig, value, &mask);
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
