// greenhub::signal_handler: runs a function in a new greenlet when the
// process receives a signal (gevent.signal_handler).
//
//   greenhub::signal_handler(SIGQUIT, greenhub::shutdown);
//
// How it works
//   Each handler is a libev ev_signal watcher on the calling thread's hub
//   loop. libev installs one process-wide sigaction handler per signal that
//   feeds the signal to the loop through its wake-up pipe (from whichever
//   thread the kernel picked); the hub then runs the watcher's callback in
//   the hub greenlet, which spawns a greenlet running fn. Deliveries that
//   arrive before the hub gets to run coalesce into one call, as with any
//   signal handler. An exception escaping fn is reported on stderr (like
//   gevent's hub.handle_error); GreenletExit ends the handler quietly.
//
//   The watcher does not keep the hub alive (it is unref'd, as gevent's
//   signal_handler creates its watcher with ref=False): a program whose only
//   remaining watcher is a signal handler is not kept waiting for a signal
//   forever; its main greenlet gets LoopExit as for any other wait nothing
//   can end. A program that means to wait for a signal waits on something
//   that keeps the hub alive (a timer, a greenlet sleeping).
//
// Invariants and limits
//   - A signal is watched by one hub at a time (libev routes each signal to
//     one loop): signal_handler on a second hub's thread for a signal already
//     handled on another hub throws std::system_error(EBUSY).
//   - A bad signal number, SIGKILL or SIGSTOP throws std::system_error(EINVAL)
//     (what sigaction would set).
//   - libev owns the signal's disposition while a handler is active; when the
//     last handler of a signal is cancelled the disposition is SIG_DFL.
//   - SignalHandler belongs to its hub: cancel() is called on the hub's
//     thread (or throws std::logic_error). Dropping the handle does not cancel
//     the handler (gevent's signal object keeps running too).
//   - The registration tables that several hubs share are guarded by a mutex.
#pragma once

#include <functional>
#include <memory>

namespace greenhub {

class Hub;

namespace detail {
struct SignalWatch;
// Cancels every signal handler of `hub` (shutdown()). On the hub's thread.
void cancel_signal_handlers(Hub& hub);
}  // namespace detail

class SignalHandler {
 public:
  SignalHandler() = default;
  explicit SignalHandler(std::shared_ptr<detail::SignalWatch> watch) : watch_(std::move(watch)) {}

  // Stops the handler: later deliveries do not call it. A greenlet already
  // spawned for an earlier delivery still runs. Idempotent.
  void cancel();
  // Whether the handler is still watching its signal.
  bool active() const;
  int signum() const;

 private:
  std::shared_ptr<detail::SignalWatch> watch_;
};

// Runs fn in a new greenlet on the calling thread's hub each time the
// process receives `signum`, until the handler is cancelled.
SignalHandler signal_handler(int signum, std::function<void()> fn);

}  // namespace greenhub
