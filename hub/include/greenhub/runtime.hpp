// greenhub runtime core: the hub, the greenlet core and the park/wake contract.
//
// This is the low-level contract that every waiting thing is built on: the
// C++ API (Greenlet<T>, Event, Queue, Timeout...) and the preload's green
// pthreads. Application code normally uses <greenhub/greenhub.hpp> instead.
//
// How it works
//   One Hub per OS thread, created on first use (Hub::current()). A hub owns
//   a libev loop (epoll backend), a FIFO ready queue of runnable greenlets, a
//   thread-safe remote queue (wakes coming from other OS threads, signalled
//   with an ev_async), and its own hub greenlet that runs the loop. The OS
//   thread's original stack is the hub's main greenlet.
//
//   A greenlet waits in three steps:
//     WaitToken t = hub.prepare_park();   // arm: wakers may fire from now on
//     ...register t with whatever will wake it (a wait list, a watcher)...
//     WakeReason r = hub.park(t, deadline);  // switch away until woken
//   and anything wakes it with Hub::wake(t, reason), from any OS thread.
//
// Invariants
//   - A greenlet belongs to one hub for its whole life and only ever runs on
//     that hub's OS thread.
//   - park() switches away exactly once; wake() schedules at most once per
//     armed park (an atomic compare-and-swap on the greenlet's park word
//     (sequence << 1 | armed) makes stale or duplicate wakes no-ops).
//   - Whoever registered a token removes it after park() returns (RAII in
//     every wait primitive), so a list never holds a token of a greenlet that
//     is not parked on it, except transiently on other OS threads, where the
//     sequence number makes the wake a no-op.
//   - errno and the C++ exception-handling globals are saved and restored per
//     greenlet at every switch: a green thread keeps its own errno, and a
//     greenlet may wait inside a catch block.
//   - A switch is a Boost.Context jump plus bookkeeping: no syscall, no lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "greenhub/spin_lock.hpp"

struct ev_loop;

namespace greenhub {

using Duration = std::chrono::nanoseconds;

class Hub;
class GreenletBase;
namespace detail {
struct HubAccess;
// The calling OS thread's hub, or nullptr (initial-exec TLS: one
// %fs-relative load; Hub::current() is inline on every wait's path).
extern __attribute__((tls_model("initial-exec"))) constinit thread_local Hub* tls_hub;
}

// Why a park() returned.
enum class WakeReason : uint8_t {
  kWoken,           // a waker called wake()
  kTimedOut,        // the park's deadline passed
  kInterrupted,     // kill() or a Timeout: pending_exception() is set
  kBlockedForever,  // the hub has nothing left that could ever wake anyone
};

// When a park gives up. Relative deadlines run on the monotonic clock;
// wall-clock deadlines (CLOCK_REALTIME absolute times) follow clock changes.
struct Deadline {
  enum class Kind : uint8_t { kNever, kRelative, kWallClock };
  Kind kind = Kind::kNever;
  double seconds = 0;  // relative seconds, or absolute seconds since the epoch

  static Deadline never() { return {}; }
  static Deadline after(Duration d) {
    return {Kind::kRelative, std::chrono::duration<double>(d).count()};
  }
  static Deadline after_seconds(double s) { return {Kind::kRelative, s}; }
  static Deadline wall_clock(double epoch_seconds) {
    return {Kind::kWallClock, epoch_seconds};
  }
  bool is_never() const { return kind == Kind::kNever; }
};

// Identifies one armed park of one greenlet.
struct WaitToken {
  GreenletBase* greenlet = nullptr;
  uint64_t sequence = 0;
};

// The part of a greenlet the hub needs: its context, stack, state and the
// park word. Greenlet<T> (greenlet.hpp) and the preload's green threads
// derive from it. Owned through std::shared_ptr; the hub holds a reference
// from start() until the greenlet has finished, so a spawned greenlet runs
// to completion even when nobody keeps its handle.
class GreenletBase : public std::enable_shared_from_this<GreenletBase> {
 public:
  enum class State : uint8_t { kNew, kRunnable, kRunning, kParked, kDead };

  GreenletBase();
  virtual ~GreenletBase();
  GreenletBase(const GreenletBase&) = delete;
  GreenletBase& operator=(const GreenletBase&) = delete;

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  Hub* hub() const { return hub_; }
  State state() const { return state_; }
  bool started() const { return state_ != State::kNew || scheduled_start_; }
  bool dead() const { return state_ == State::kDead; }
  bool is_main() const { return is_main_; }
  // The hub's own loop greenlet (never parks; may not wait).
  bool is_hub() const { return is_hub_; }
  // A tag owned by whoever creates the greenlet (the preload marks its
  // green threads with it); 0 for API greenlets.
  uint8_t tag() const { return tag_; }
  void set_tag(uint8_t tag) { tag_ = tag; }

  // Usable stack bytes; 0 for a hub's main greenlet (the OS thread's stack).
  size_t stack_size() const { return stack_size_; }
  // Lowest usable stack address once started; nullptr for a main greenlet.
  void* stack_base() const { return stack_base_; }
  // Must be called before start(); rounded up to whole pages.
  void set_stack_size(size_t bytes);

  // Makes the greenlet runnable on the current thread's hub.
  void start();
  // Makes it runnable on `hub`, from any OS thread (the greenlet then
  // belongs to that hub).
  void start_on(Hub& hub);
  // Makes it runnable after a delay (gevent's start_later).
  void start_later(Duration delay);

  // The exception to raise at this greenlet's next wait (kill, Timeout);
  // `source` identifies who set it so that it can be withdrawn.
  void set_pending_exception(std::exception_ptr e, const void* source);
  void clear_pending_exception(const void* source);
  bool has_pending_exception() const { return pending_exception_ != nullptr; }
  // Takes the pending exception (the caller throws it).
  std::exception_ptr take_pending_exception();

  // Wakes everything waiting for this greenlet to finish (joiners) once it
  // is dead; callbacks registered here run on the hub, in order.
  void on_death(std::function<void()> callback);

  // A short description of what this greenlet waits on ("sleep", "read fd 5").
  // Points at a string literal or at storage that outlives the wait.
  const char* waiting_on() const { return waiting_on_; }
  void set_waiting_on(const char* what) {
    waiting_on_ = what;
    waiting_fd_ = -1;
  }
  // The same, with the descriptor the wait is on.
  void set_waiting_on(const char* what, int fd) {
    waiting_on_ = what;
    waiting_fd_ = fd;
  }
  // The descriptor of the current wait (-1: none or not known).
  int waiting_fd() const { return waiting_fd_; }
  // When the greenlet's current (or last) park began: CLOCK_MONOTONIC_COARSE
  // nanoseconds, stored by Hub::park. Tools read it with waiting_on() and
  // waiting_fd() as the greenlet's wait record.
  int64_t parked_since_ns() const { return parked_since_ns_; }
  // The saved machine context of a started greenlet that is not running:
  // the stack address where jump_fcontext saved its callee-saved registers
  // and return address (tools walk a parked greenlet's stack from it).
  const void* saved_context() const { return context_; }

 protected:
  // The greenlet's body. An exception escaping it is passed to finished().
  virtual void run() = 0;
  // Called on the greenlet's own stack after run() returns or throws, or on
  // the killer's stack for a greenlet killed before it started. Must not
  // block. The greenlet's death callbacks run right after it.
  virtual void finished(std::exception_ptr error) = 0;
  // Ends a greenlet that never ran (killed before its start) with `error`.
  void finish_unstarted(std::exception_ptr error);

 private:
  friend class Hub;
  friend struct detail::HubAccess;

  uint64_t id_;
  std::string name_;
  Hub* hub_ = nullptr;
  State state_ = State::kNew;
  bool is_main_ = false;
  bool is_hub_ = false;
  bool scheduled_start_ = false;
  uint8_t tag_ = 0;

  // Context switching.
  void* context_ = nullptr;          // boost::context::detail::fcontext_t
  void* stack_base_ = nullptr;       // lowest usable address
  size_t stack_size_ = 0;
  size_t stack_mapping_size_ = 0;    // usable + guard, as handed out by the pool
  int saved_errno_ = 0;
  void* saved_eh_globals_[2] = {nullptr, nullptr};
  void* asan_fake_stack_ = nullptr;
  const void* asan_stack_bottom_ = nullptr;
  size_t asan_stack_size_ = 0;

  // Parking: (sequence << 1) | armed.
  std::atomic<uint64_t> park_word_{0};
  WakeReason wake_reason_ = WakeReason::kWoken;
  GreenletBase* next_ready_ = nullptr;
  std::shared_ptr<GreenletBase> self_ref_;  // held by the hub while alive

  std::exception_ptr pending_exception_;
  const void* pending_source_ = nullptr;
  const char* waiting_on_ = nullptr;
  int waiting_fd_ = -1;
  int64_t parked_since_ns_ = 0;
  std::vector<std::function<void()>> death_callbacks_;

  // Live list of the hub (intrusive, for shutdown and introspection).
  GreenletBase* live_prev_ = nullptr;
  GreenletBase* live_next_ = nullptr;
};

// Statistics of one hub, readable from other threads (the monitor, tools).
struct HubCounters {
  std::atomic<uint64_t> switches{0};
  std::atomic<uint64_t> loop_iterations{0};
  std::atomic<uint64_t> spawned{0};
  std::atomic<uint64_t> finished{0};
};

class Hub {
 public:
  // The calling OS thread's hub, created on first use.
  static Hub& current() {
    Hub* hub = detail::tls_hub;
    return hub != nullptr ? *hub : create_current();
  }
  // The calling OS thread's hub, or nullptr if it has none yet.
  static Hub* current_if_exists() { return detail::tls_hub; }

  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;
  ~Hub();

  struct ev_loop* loop() const { return loop_; }
  GreenletBase* current_greenlet() const { return current_; }
  GreenletBase* main_greenlet() const { return main_.get(); }
  std::shared_ptr<GreenletBase> current_ref() const;
  uint64_t id() const { return id_; }
  const HubCounters& counters() const { return counters_; }
  // The OS thread this hub runs on.
  unsigned long os_thread() const { return os_thread_; }

  // --- parking ---------------------------------------------------------
  // Arms a park of the current greenlet and returns its token.
  WaitToken prepare_park();
  // Switches away until the token is woken, the deadline passes
  // (kTimedOut) or the greenlet is interrupted. Always switches once.
  WakeReason park(WaitToken token, Deadline deadline = Deadline::never());
  // Disarms a prepared park that turned out to be unnecessary. If a waker
  // already fired, the greenlet has been scheduled, so this yields once to
  // consume that wake-up; returns true in that case.
  bool cancel_park(WaitToken token);
  // Wakes the greenlet parked with `token`, from any OS thread. Returns false
  // when that park was already woken or is over.
  static bool wake(WaitToken token, WakeReason reason = WakeReason::kWoken);
  // Wakes `g` with kInterrupted if it is parked (any park).
  static bool interrupt(GreenletBase* g);
  // Lets every other runnable greenlet run, then continues (sleep(0)).
  void yield();
  // Like yield(), but the loop polls first (without blocking), so that due
  // timers and ready descriptors wake their greenlets even when a poll is
  // not due yet: for a greenlet that runs long without waiting.
  void yield_to_loop();

  // --- running ---------------------------------------------------------
  // Runs the hub from the main greenlet until stop_forever_loop() is called
  // (used by threads that exist only to be hubs).
  void run_forever();
  void stop_forever_loop();
  // A hub kept alive never reports kBlockedForever (the preload's hubs).
  void set_keep_alive(bool keep_alive);
  // The calling thread's hub outlives the thread: it is not destroyed at
  // thread exit (the preload's hubs, which other threads may still wake
  // while the process exits).
  static void persist_current();
  // Marks an expected wake from another thread (ThreadPool): while at least
  // one is outstanding the hub does not report kBlockedForever.
  void add_external_wait();
  void remove_external_wait();

  // In a child made by fork(), on the forking OS thread: the current
  // greenlet becomes this hub's only greenlet, as the forking thread is the
  // child's only thread. Every other greenlet (the main greenlet too, unless
  // it is the current one) is forgotten: never woken, never resumed, its
  // stack left as it is. The hub gets a fresh libev loop (the old one, whose
  // watchers live on the forgotten greenlets' stacks, is abandoned, its
  // close-on-exec descriptors left open), an empty ready queue and an empty
  // remote queue (whose lock another thread may have held at fork time).
  void reset_in_forked_child();
  // Around fork(): takes (in the prepare handler) and releases (in the
  // parent and child handlers) the locks of the runtime's process-wide
  // state (the stack pool), so that the child inherits it consistent.
  static void lock_for_fork();
  static void unlock_after_fork();

  // Runs `fn` on this hub's thread soon (in the hub greenlet; must not
  // block). Thread-safe.
  void post(std::function<void()> fn);

  // Every live (started, not finished) greenlet of this hub, main included.
  std::vector<std::shared_ptr<GreenletBase>> live_greenlets() const;

  // Whether the calling OS thread is creating one of the runtime's own
  // threads (a hub thread, a ThreadPool worker): the preload then lets
  // pthread_create make a real thread. Use RuntimeThreadScope around it.
  static bool creating_runtime_thread();

  // The default stack size for new greenlets (GREENHUB_STACK_SIZE or 256 KiB).
  static size_t default_stack_size();
  static void set_default_stack_size(size_t bytes);

 private:
  friend class GreenletBase;
  friend struct detail::HubAccess;
  Hub();

  void schedule_local(GreenletBase* g);
  void schedule_remote(GreenletBase* g);
  void switch_to(GreenletBase* next);
  void switch_away();
  bool poll_not_due();
  void after_resume(void* from_greenlet, void* from_context);
  void hub_loop();
  void drain_remote();
  bool interrupt_main_blocked();
  void release_dead(GreenletBase* g);
  void attach(GreenletBase* g);
  void detach(GreenletBase* g);
  void exit_current();  // the current greenlet is dead: switch away for good
  bool nothing_can_wake(bool loop_alive);

  // Creates the calling OS thread's hub (Hub::current()'s slow path).
  static Hub& create_current();

  class HubGreenlet;
  class MainGreenlet;
  struct Watchers;

  uint64_t id_;
  unsigned long os_thread_ = 0;
  struct ev_loop* loop_ = nullptr;
  std::unique_ptr<Watchers> watchers_;
  GreenletBase* current_ = nullptr;
  std::shared_ptr<GreenletBase> main_;
  std::shared_ptr<GreenletBase> hub_greenlet_;
  GreenletBase* ready_head_ = nullptr;
  GreenletBase* ready_tail_ = nullptr;
  // Direct switches left before switch_away looks at the clock, and when
  // the hub last polled its loop (CLOCK_MONOTONIC ns).
  int direct_switch_budget_ = 0;
  uint64_t last_poll_ns_ = 0;
  // This OS thread's errno and C++ exception globals, saved and restored at
  // every switch: their addresses are fixed for the thread's lifetime, so
  // they are looked up once instead of through TLS calls per switch.
  int* errno_location_ = nullptr;
  void* eh_globals_ = nullptr;
  bool keep_alive_ = false;
  bool forever_stop_ = false;
  WaitToken forever_token_;
  void* alt_stack_ = nullptr;
  int external_waits_ = 0;
  GreenletBase* live_head_ = nullptr;

  mutable SpinLock remote_lock_;
  GreenletBase* remote_head_ = nullptr;
  GreenletBase* remote_tail_ = nullptr;
  std::vector<std::function<void()>> posted_;

  HubCounters counters_;
};

// Marks, for its lifetime, that the calling OS thread creates runtime
// threads (see Hub::creating_runtime_thread).
class RuntimeThreadScope {
 public:
  RuntimeThreadScope();
  ~RuntimeThreadScope();
  RuntimeThreadScope(const RuntimeThreadScope&) = delete;
  RuntimeThreadScope& operator=(const RuntimeThreadScope&) = delete;
};

// The greenlet running now on this OS thread (the main greenlet if none).
GreenletBase& current_greenlet();

}  // namespace greenhub
