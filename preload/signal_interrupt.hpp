// EINTR for green waits: a signal handler interrupts a green wait as the
// kernel interrupts the blocking system call of the thread that runs it.
//
// How it works
//   Every handler the program installs runs through the preload's
//   trampoline (signal_handlers.cpp), which first calls
//   note_handler_run(): async-signal-safe, it counts the run on the OS
//   thread (initial-exec TLS) and, if the thread's hub has interruptible
//   waits, sends the hub's interrupt watcher (ev_async_send, which libev
//   makes async-signal-safe). The watcher's callback runs in the hub
//   greenlet and wakes the waits the run concerns, marking them
//   interrupted; the woken wait returns EINTR (or its call's equivalent).
//
//   An InterruptibleWait registers its park token on its hub's list
//   (hub-local, no lock) with the thread's run counts at its start, so a
//   handler that ran before the wait began never interrupts it, as a
//   signal handled before a system call does not interrupt it.
//
// Which waits a handler run concerns
//   Natively the kernel interrupts the thread that runs the handler. A
//   process-directed signal (kill, sigqueue, timers, SIGCHLD...) is
//   delivered to the main thread when it does not block it, and the
//   runtime's hub threads block such signals: it runs on hub 0's OS
//   thread, and concerns that hub's *signal receiver*: its main greenlet,
//   main(). So does a signal sent to the OS thread itself with pthread_kill
//   or tgkill. More generally the receiver of a hub is its OS thread's own
//   context: with GREENHUB_GREEN_THREADS=0 each real thread is its hub's
//   main greenlet; in a child forked by a green thread, the receiver is
//   that green thread (the child's only thread).
//   A signal sent to a green thread (pthread_kill, see pthread_life.cpp)
//   concerns that green thread only: deliver_signal_to_green_thread(). It
//   interrupts the thread's wait only if the thread's mask (its own, or
//   the one a ppoll, pselect, epoll_pwait or sigsuspend waits with) does
//   not block it; a blocked one is held for the thread (signal_mask.hpp).
//   A wait that takes signals (sigwait and its kin) takes a signal of its
//   set instead of being interrupted by it.
//   A sleep (nanosleep, pause...) is interrupted by any handler; a
//   restartable wait (waitpid, read...) only by a handler installed
//   without SA_RESTART, as the kernel restarts the others.
//
// Not reproduced: a handler that runs on a hub thread while a green thread
// other than the receiver is running there (a synchronous SIGPIPE with a
// handler, for instance) is attributed to the receiver.
#pragma once

#include <signal.h>

#include <cstdint>

#include "green_thread.hpp"
#include "greenhub/runtime.hpp"

namespace greenhub::preload {

// From the trampoline, before the program's handler (async-signal-safe).
// `restart`: the handler was installed with SA_RESTART.
void note_handler_run(int sig, const siginfo_t* info, bool restart);

// The signals of a wait, beyond the OS thread's mask (both pointers
// outlive the wait; nullptr: none).
struct SignalScope {
  // The mask the call waits with (ppoll, pselect, epoll_pwait, sigsuspend).
  const sigset_t* wait_mask = nullptr;
  // The signals the call takes (sigwait, sigwaitinfo, sigtimedwait).
  const sigset_t* takes = nullptr;
};

// A signal sent to a waiting green thread and taken by its wait (sig 0:
// none).
using TakenSignal = PendingGreenSignal;

class InterruptibleWait {
 public:
  enum class Kind : uint8_t {
    kSleep,        // any handler interrupts it (nanosleep, pause, poll)
    kRestartable,  // only a handler without SA_RESTART (waitpid, read)
  };

  // Registers `token` (already prepared on `hub`, the caller's) for
  // interruption; park on it after this.
  InterruptibleWait(Hub& hub, WaitToken token, Kind kind, SignalScope scope = {});
  // Unregisters. If a signal sent to this green thread interrupted the
  // wait, its handler runs now, on this green thread, before the caller
  // returns EINTR.
  ~InterruptibleWait();
  InterruptibleWait(const InterruptibleWait&) = delete;
  InterruptibleWait& operator=(const InterruptibleWait&) = delete;

  // Whether a handler interrupted the wait (the caller fails with EINTR):
  // woken for it, or, if something else woke it first, a handler that
  // concerns it ran since it began (as a system call that a signal and its
  // completion reach together may return either way).
  bool interrupted() const;
  // The signal of scope.takes sent to this green thread during the wait.
  const TakenSignal& taken() const { return taken_; }

 private:
  friend struct HubInterrupts;
  struct HubInterrupts* owner_;
  WaitToken token_;
  Kind kind_;
  SignalScope scope_;
  TakenSignal taken_;
  bool interrupted_ = false;
  int directed_signal_ = 0;  // a signal sent to this green thread, delivered on unregistering
  bool directed_has_value_ = false;
  sigval directed_value_{};
  uint64_t runs_at_start_;
  uint64_t nonrestart_runs_at_start_;
  InterruptibleWait* prev_ = nullptr;
  InterruptibleWait* next_ = nullptr;
};

// pthread_kill to a green thread other than the caller: on the target's
// hub, a wait of the target that takes `sig` takes it; if the target blocks
// `sig`, it is held for the target; if the target is in an interruptible
// wait and the program handles `sig`, the wait ends with EINTR and the
// handler runs on the target as it returns; otherwise the signal is
// delivered to the hub's OS thread at once with the target's mask
// installed, where the kernel applies its disposition (a handler then runs
// in the hub's context). Thread-safe.
// With `value` (pthread_sigqueue), the signal is queued with that value.
void deliver_signal_to_green_thread(GreenletBase* target, int sig, const sigval* value = nullptr);

// raise() / pthread_kill(pthread_self()) from a green thread: holds `sig`
// for the caller if its mask blocks it, else delivers it synchronously on
// the calling OS thread, with the caller running and its mask installed
// for the delivery (or `deliver_mask`; in the hub's own context, unblocking
// it if only the runtime blocks it). The run is
// the caller's: it interrupts no other green thread's wait. Returns 0, or
// an error number. With `value`, queued as pthread_sigqueue does.
int raise_on_this_thread(int sig, const sigval* value = nullptr,
                         const sigset_t* deliver_mask = nullptr);

// Runs the handlers of the signals pending for the caller (held for its
// green thread, pending for its OS thread or the process) that `mask`
// unblocks, with `mask` installed, as the kernel does when a call that
// waits with a mask returns. Returns whether a handler ran.
bool deliver_pending_with_mask(const sigset_t* mask);

// For a call that waits with `mask` (ppoll, pselect, epoll_pwait): a signal
// held for the calling green thread that `mask` lets through ends the call
// with EINTR (errno set, true returned), its handler run with `mask`
// installed (signal_mask.hpp).
bool end_call_for_held_signal(const sigset_t* mask);

// The green thread that receives the hub's process-directed signals (see
// above); in a child forked by a green thread, that green thread.
void set_signal_receiver(Hub& hub, GreenletBase* receiver);

// In a child made by fork(): the interrupt watchers lived in the abandoned
// loop; waits of forgotten greenlets are dropped.
void reset_signal_interrupts_in_forked_child();

}  // namespace greenhub::preload
