// signal_handler (see signal.hpp for the mechanism and its invariants).
//
// Bookkeeping
//   - Per hub (thread_local, one hub per thread): the active watches, so that
//     shutdown() can cancel them all and thread exit stops them before the
//     hub's loop is destroyed. The list is created after the thread's hub,
//     hence destroyed before it.
//   - Process-wide (mutex): for each signal, the loop that watches it and how
//     many watches it has there. libev keeps its own per-signal loop table
//     and asserts rather than reports a second loop; this table turns that
//     into an EBUSY error, and serializes ev_signal_start/stop, which update
//     libev's process-wide table.
#include "greenhub/signal.hpp"

#include <ev.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "greenhub/greenlet.hpp"
#include "greenhub/runtime.hpp"

namespace greenhub {

namespace detail {

struct SignalWatch {
  ev_signal watcher;  // watcher.data points back at this SignalWatch
  Hub* hub = nullptr;
  int signum = 0;
  bool active = false;
  std::function<void()> fn;
};

}  // namespace detail

namespace {

using detail::SignalWatch;

struct SignalSlot {
  struct ev_loop* loop = nullptr;
  int watches = 0;
};

std::mutex slots_mutex;
std::array<SignalSlot, NSIG> slots;  // under slots_mutex

struct HubSignals {
  std::vector<std::shared_ptr<SignalWatch>> active;
  ~HubSignals();
};

HubSignals& hub_signals() {
  thread_local HubSignals signals;
  return signals;
}

std::string signal_name(int signum) {
  const char* abbrev = sigabbrev_np(signum);
  if (abbrev != nullptr) return std::string("SIG") + abbrev;
  return "signal " + std::to_string(signum);
}

void run_handler(const std::function<void()>& fn, int signum) {
  try {
    fn();
  } catch (const GreenletExit&) {
    throw;  // killed (shutdown, kill): not an error
  } catch (const std::exception& e) {
    std::fprintf(stderr, "greenhub: the %s handler raised: %s\n", signal_name(signum).c_str(),
                 e.what());
  } catch (...) {
    std::fprintf(stderr, "greenhub: the %s handler raised a non-standard exception\n",
                 signal_name(signum).c_str());
  }
}

// In the hub greenlet, during the loop's poll.
void on_signal(struct ev_loop*, ev_signal* w, int) {
  auto* watch = static_cast<SignalWatch*>(w->data);
  Greenlet<> handler([fn = watch->fn, signum = watch->signum] { run_handler(fn, signum); });
  handler.set_name("signal_handler(" + signal_name(watch->signum) + ")");
  handler.start();
}

// Stops one watch; on its hub's thread.
void stop_watch(SignalWatch& watch) {
  if (!watch.active) return;
  watch.active = false;
  struct ev_loop* loop = watch.hub->loop();
  ev_ref(loop);  // undo the unref made when it started
  {
    std::lock_guard<std::mutex> lock(slots_mutex);
    ev_signal_stop(loop, &watch.watcher);
    SignalSlot& slot = slots[static_cast<size_t>(watch.signum)];
    if (--slot.watches == 0) slot.loop = nullptr;
  }
}

HubSignals::~HubSignals() {
  for (auto& watch : active) stop_watch(*watch);
  active.clear();
}

void forget(SignalWatch& watch) {
  auto& active = hub_signals().active;
  active.erase(std::remove_if(active.begin(), active.end(),
                              [&](const std::shared_ptr<SignalWatch>& w) { return w.get() == &watch; }),
               active.end());
}

void check_signal_number(int signum) {
  struct sigaction current;
  // sigaction rejects out-of-range numbers and the signals glibc reserves
  // for itself; SIGKILL and SIGSTOP can be queried but never caught.
  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP ||
      sigaction(signum, nullptr, &current) != 0) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "greenhub::signal_handler: cannot handle signal " +
                                std::to_string(signum));
  }
}

}  // namespace

SignalHandler signal_handler(int signum, std::function<void()> fn) {
  check_signal_number(signum);
  if (!fn) throw std::invalid_argument("greenhub::signal_handler: empty handler function");
  Hub& hub = Hub::current();
  auto watch = std::make_shared<SignalWatch>();
  watch->hub = &hub;
  watch->signum = signum;
  watch->fn = std::move(fn);
  ev_signal_init(&watch->watcher, on_signal, signum);
  watch->watcher.data = watch.get();
  {
    std::lock_guard<std::mutex> lock(slots_mutex);
    SignalSlot& slot = slots[static_cast<size_t>(signum)];
    if (slot.loop != nullptr && slot.loop != hub.loop()) {
      throw std::system_error(EBUSY, std::generic_category(),
                              "greenhub::signal_handler: " + signal_name(signum) +
                                  " is already handled on another hub (thread)");
    }
    slot.loop = hub.loop();
    ++slot.watches;
    ev_signal_start(hub.loop(), &watch->watcher);
  }
  ev_unref(hub.loop());  // a signal handler alone does not keep the hub alive
  watch->active = true;
  hub_signals().active.push_back(watch);
  return SignalHandler(watch);
}

void SignalHandler::cancel() {
  if (!watch_ || !watch_->active) return;
  if (Hub::current_if_exists() != watch_->hub) {
    throw std::logic_error("greenhub::SignalHandler::cancel: called from another thread than its hub's");
  }
  std::shared_ptr<SignalWatch> keep = watch_;  // forget() may drop the last other reference
  stop_watch(*keep);
  forget(*keep);
}

bool SignalHandler::active() const { return watch_ && watch_->active; }

int SignalHandler::signum() const { return watch_ ? watch_->signum : 0; }

void detail::cancel_signal_handlers(Hub& hub) {
  if (Hub::current_if_exists() != &hub) {
    throw std::logic_error("greenhub: signal handlers are cancelled on their hub's thread");
  }
  auto active = std::move(hub_signals().active);
  hub_signals().active.clear();
  for (auto& watch : active) stop_watch(*watch);
}

}  // namespace greenhub
