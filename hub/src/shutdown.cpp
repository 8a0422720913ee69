// shutdown (see shutdown.hpp for what it does to each kind of greenlet).
//
// Each round scans the hub's live list, and for every greenlet but the main
// greenlet and the caller: registers a death callback, then kills it. The
// caller then parks until the round's count of deaths reaches zero.
//
// Nothing is allocated on the heap while the caller is parked: the round's
// state (a ShutdownRound) lives on the caller's stack, linked in a per-thread
// list, and the death callbacks carry only the round's id and look it up
// there. This matters because the main greenlet, woken by the same deaths
// (it may be joining a victim), can run first and end the process while the
// caller is still parked: the hub then discards the caller's stack, and
// nothing must have been owned from it (LeakSanitizer would report it). If
// the caller stops waiting for any other reason, its round unlinks itself
// and later deaths find no round to count.
#include "greenhub/shutdown.hpp"

#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "greenhub/greenlet.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/signal.hpp"
#include "greenhub/wait.hpp"

namespace greenhub {

namespace {

struct ShutdownRound {
  uint64_t id = 0;
  size_t remaining = 0;  // victims of this round not dead yet
  WaitToken token;
  bool parked = false;
  ShutdownRound* next = nullptr;
  ShutdownRound* prev = nullptr;
};

// The rounds in progress on this thread (one hub per thread).
thread_local ShutdownRound* tls_rounds = nullptr;
thread_local uint64_t tls_next_round_id = 0;

void on_victim_death(uint64_t round_id) {
  for (ShutdownRound* r = tls_rounds; r != nullptr; r = r->next) {
    if (r->id != round_id) continue;
    if (--r->remaining == 0 && r->parked) Hub::wake(r->token);
    return;
  }
}

struct RoundLink {
  explicit RoundLink(ShutdownRound& round) : r(round) {
    r.next = tls_rounds;
    if (r.next != nullptr) r.next->prev = &r;
    tls_rounds = &r;
  }
  ~RoundLink() {
    if (r.prev != nullptr) r.prev->next = r.next;
    else tls_rounds = r.next;
    if (r.next != nullptr) r.next->prev = r.prev;
  }
  RoundLink(const RoundLink&) = delete;
  RoundLink& operator=(const RoundLink&) = delete;
  ShutdownRound& r;
};

void kill_without_waiting(GreenletBase& g) {
  if (auto* core = dynamic_cast<GreenletCore*>(&g)) {
    core->kill(nullptr, /*block=*/false);
    return;
  }
  // Not an API greenlet: the same kill, by hand.
  static const char kShutdownSource = 0;
  g.set_pending_exception(std::make_exception_ptr(GreenletExit()), &kShutdownSource);
  Hub::interrupt(&g);
}

// Kills the current victims and waits for their deaths; false if there were
// none.
bool kill_round(Hub& hub) {
  ShutdownRound round;
  round.id = ++tls_next_round_id;
  RoundLink link(round);
  {
    GreenletBase* self = hub.current_greenlet();
    GreenletBase* main = hub.main_greenlet();
    std::vector<std::shared_ptr<GreenletBase>> live = hub.live_greenlets();
    for (const auto& g : live) {
      if (g.get() == self || g.get() == main || g->dead()) continue;
      ++round.remaining;
      g->on_death([id = round.id] { on_victim_death(id); });
      kill_without_waiting(*g);
    }
  }  // the snapshot is freed before parking
  if (round.remaining == 0) return false;
  while (round.remaining > 0) {
    round.token = hub.prepare_park();
    round.parked = true;
    struct Unpark {
      ShutdownRound& r;
      ~Unpark() { r.parked = false; }
    } unpark{round};
    block(round.token);
  }
  return true;
}

}  // namespace

void shutdown() {
  Hub& hub = Hub::current();
  detail::cancel_signal_handlers(hub);
  while (kill_round(hub)) {
  }
}

}  // namespace greenhub
