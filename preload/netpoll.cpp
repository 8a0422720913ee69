#include "netpoll.hpp"

#include "greenhub/trace.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "drained_input.hpp"
#include "greenhub/trace.hpp"
#include "process_fork.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "signal_interrupt.hpp"

namespace greenhub::preload {

std::atomic<uint32_t> Poller::epoch_{1};

namespace {

// Any hang-up or error wakes every waiter of the descriptor, whatever it
// asked for (poll reports POLLHUP and POLLERR unasked).
constexpr uint32_t kWakeOnHangup = 1u << 31;
constexpr uint32_t kPollerEvents = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET;

}  // namespace

// Every poller ever made, by index (an index is never reused, so a stale
// registration bit can never name another poller).
struct PollerRegistry {
  static constexpr int kMax = 4096;
  std::atomic<Poller*> pollers[kMax];
  std::atomic<int> count{0};

  static PollerRegistry& get() {
    static auto* r = new PollerRegistry();  // never destroyed: used during exit
    return *r;
  }
};

namespace {

// Retires the calling thread's poller when the thread ends (threads whose
// hub dies with them: GREENHUB_GREEN_THREADS=0). Not at process exit (the
// main thread's): other threads may still use it then. The object itself
// is never freed, since another thread may be reading it in forget().
struct PollerHolder {
  Poller* poller = nullptr;
  ~PollerHolder() {
    if (poller != nullptr && raw_gettid() != getpid()) poller->retire();
  }
};
thread_local PollerHolder tls_poller;

}  // namespace

Poller& Poller::current() {
  if (tls_poller.poller != nullptr) return *tls_poller.poller;
  Hub& hub = Hub::current();
  int epfd = GREENHUB_REAL(epoll_create1)(EPOLL_CLOEXEC);
  if (epfd < 0) {
    std::fprintf(stderr, "greenhub: cannot create a hub's poller (epoll_create1): %s\n",
                 std::strerror(errno));
    std::abort();
  }
  epfd = FdTable::make_private(epfd);
  PollerRegistry& r = PollerRegistry::get();
  const int index = r.count.fetch_add(1, std::memory_order_acq_rel);
  auto* p = new Poller(hub, index, epfd);
  if (index < PollerRegistry::kMax) r.pollers[index].store(p, std::memory_order_release);
  tls_poller.poller = p;
  return *p;
}

Poller* Poller::current_if_exists() { return tls_poller.poller; }

Poller::Poller(Hub& hub, int index, int epfd) : hub_(&hub), index_(index), epfd_(epfd) {
  ev_io_init(&io_, &Poller::on_ready, epfd_, EV_READ);
  io_.data = this;
  ev_io_start(hub.loop(), &io_);
  ev_unref(hub.loop());  // a poller alone does not keep its hub alive
}

void Poller::retire() {
  PollerRegistry& r = PollerRegistry::get();
  if (index_ < PollerRegistry::kMax) r.pollers[index_].store(nullptr, std::memory_order_release);
  ev_ref(hub_->loop());
  ev_io_stop(hub_->loop(), &io_);
  FdTable::release_private(epfd_);
}

void Poller::on_ready(struct ev_loop*, ev_io* w, int) { static_cast<Poller*>(w->data)->drain(); }

void Poller::drain() {
  const int saved = errno;
  epoll_event events[128];
  for (int round = 0; round < 16; ++round) {
    int n = GREENHUB_REAL(epoll_wait)(epfd_, events, 128, 0);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) dispatch(events[i].data.u64, events[i].events);
    if (n < 128) break;
  }
  errno = saved;
}

void Poller::dispatch(uint64_t data, uint32_t events) {
  const int fd = static_cast<int>(static_cast<uint32_t>(data));
  const uint32_t generation = static_cast<uint32_t>(data >> 32);
  FdState* e = FdTable::find(fd);
  if (e == nullptr || e->generation.load(std::memory_order_acquire) != generation) return;
  // Before any wake-up (drained_input.hpp): an input edge voids the
  // entry's drained mark; urgent data, EOF, a hang-up or an error stay
  // readable with no further edge, and turn the mark off for good.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) note_input_edge(*e);
  if (events & (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) e->set_bits(fd_bits::kInputStays);
  uint32_t interest = 0;
  if (events & (EPOLLIN | EPOLLRDHUP)) interest |= EPOLLIN;
  if (events & EPOLLOUT) interest |= EPOLLOUT;
  if (events & EPOLLPRI) interest |= EPOLLPRI;
  if (events & (EPOLLERR | EPOLLHUP)) interest |= EPOLLIN | EPOLLOUT | EPOLLPRI | kWakeOnHangup;
  std::lock_guard<SpinLock> lock(e->lock);
  for (WaitNode* n = e->waiters; n != nullptr; n = n->next) {
    if (n->poller == this && (n->events & interest) != 0) Hub::wake(n->token);
  }
}

int Poller::register_fd(int fd, FdState& e, bool trusted) {
  const uint64_t bit = this->bit();
  const uint32_t epoch = Poller::epoch();
  const bool known = e.pollers_epoch.load(std::memory_order_acquire) == epoch &&
                     (e.pollers.load(std::memory_order_acquire) & bit) != 0;
  if (trusted && known && index_ < 63) return 0;
  epoll_event ev{};
  ev.events = kPollerEvents;
  ev.data.u64 = static_cast<uint32_t>(fd) |
                (static_cast<uint64_t>(e.generation.load(std::memory_order_acquire)) << 32);
  const int saved = errno;
  int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  int rc = GREENHUB_REAL(epoll_ctl)(epfd_, op, fd, &ev);
  if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT) {
    rc = GREENHUB_REAL(epoll_ctl)(epfd_, EPOLL_CTL_ADD, fd, &ev);
  } else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST) {
    rc = GREENHUB_REAL(epoll_ctl)(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
  if (rc != 0) {
    const int err = errno;
    errno = saved;
    return -err;
  }
  errno = saved;
  if (e.pollers_epoch.load(std::memory_order_acquire) != epoch) {
    e.pollers.store(0, std::memory_order_release);
    e.pollers_epoch.store(epoch, std::memory_order_release);
  }
  e.pollers.fetch_or(bit, std::memory_order_acq_rel);
  return 0;
}

int Poller::arm(int fd, FdState& e) {
  // Trusted: a number whose file cannot change unseen without the next
  // attempt noticing (a socket: ENOTSOCK; an epoll instance: EINVAL). A
  // pipe could become a regular file (freopen's dup3), on which
  // RWF_NOWAIT writes fail with EAGAIN: re-registering finds out (EPERM).
  const FdKind kind = e.get_kind();
  const bool trusted = kind == FdKind::kPrivate ||
                       ((kind == FdKind::kSocket || kind == FdKind::kAnon) && e.has(fd_bits::kOwned));
  return register_fd(fd, e, trusted);
}

int Poller::arm_from_any_thread(int fd, FdState& e) { return register_fd(fd, e, false); }

void Poller::forget(int fd, uint64_t mask) {
  if (mask == 0) return;
  const int saved = errno;
  PollerRegistry& r = PollerRegistry::get();
  const int count = std::min(r.count.load(std::memory_order_acquire), PollerRegistry::kMax);
  for (int i = 0; i < count; ++i) {
    const uint64_t bit = i < 63 ? (1ull << i) : (1ull << 63);
    if (!(mask & bit)) continue;
    Poller* p = r.pollers[i].load(std::memory_order_acquire);
    if (p != nullptr) GREENHUB_REAL(epoll_ctl)(p->epfd_, EPOLL_CTL_DEL, fd, nullptr);
  }
  errno = saved;
}

void Poller::after_fork_in_child() {
  // The child shares the parent's epoll instances (it would steal the
  // parent's edges) and its hub has a fresh libev loop. The forking
  // thread's poller gets a fresh instance under the same number, watched by
  // the new loop; the other threads do not exist here, their pollers are
  // retired; every registration is forgotten.
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  Poller* survivor = tls_poller.poller;
  PollerRegistry& r = PollerRegistry::get();
  const int count = std::min(r.count.load(std::memory_order_acquire), PollerRegistry::kMax);
  for (int i = 0; i < count; ++i) {
    Poller* p = r.pollers[i].load(std::memory_order_acquire);
    if (p == nullptr || p == survivor) continue;
    // Its loop is gone (the object is leaked, as the loop is): only its
    // epoll instance is closed.
    r.pollers[i].store(nullptr, std::memory_order_release);
    FdTable::release_private(p->epfd_);
  }
  FdTable::reset_in_forked_child(survivor != nullptr ? survivor->epfd_ : -1);
  if (survivor == nullptr) return;
  int fresh = GREENHUB_REAL(epoll_create1)(EPOLL_CLOEXEC);
  if (fresh >= 0) {
    GREENHUB_REAL(dup3)(fresh, survivor->epfd_, O_CLOEXEC);
    GREENHUB_REAL(close)(fresh);
  }
  Hub* hub = Hub::current_if_exists();
  if (hub == nullptr || hub != survivor->hub_) {
    tls_poller.poller = nullptr;  // its hub is gone: a new one is made on demand
    return;
  }
  // The old watcher belonged to the abandoned loop: start over.
  ev_io_init(&survivor->io_, &Poller::on_ready, survivor->epfd_, EV_READ);
  survivor->io_.data = survivor;
  ev_io_start(hub->loop(), &survivor->io_);
  ev_unref(hub->loop());
}

namespace {
__attribute__((constructor)) void register_netpoll_fork_hook() {
  at_fork_child(&Poller::after_fork_in_child);
}
}  // namespace

// ---------------------------------------------------------------------------
// FdWaitSet

void unlink_wait_node(WaitNode* node) {
  for (;;) {
    FdState* e = node->entry.load(std::memory_order_acquire);
    if (e == nullptr) return;
    std::lock_guard<SpinLock> lock(e->lock);
    if (node->entry.load(std::memory_order_acquire) != e) continue;  // moved meanwhile
    if (node->prev != nullptr) node->prev->next = node->next;
    else e->waiters = node->next;
    if (node->next != nullptr) node->next->prev = node->prev;
    node->prev = node->next = nullptr;
    node->entry.store(nullptr, std::memory_order_release);
    return;
  }
}

FdWaitSet::FdWaitSet(size_t capacity) : capacity_(capacity) {
  if (capacity <= 2) {
    nodes_ = inline_;
  } else {
    heap_.reset(new WaitNode[capacity]);
    nodes_ = heap_.get();
  }
}

FdWaitSet::~FdWaitSet() {
  unlink_all();
  for (size_t i = 0; i < size_; ++i) {
    if (nodes_[i].moved) FdTable::release_private(nodes_[i].fd);
  }
}

void FdWaitSet::add(int fd, uint32_t events) {
  if (size_ == capacity_) return;
  WaitNode& n = nodes_[size_++];
  n.fd = fd;
  n.events = events | kWakeOnHangup;
}

void FdWaitSet::add_expecting(int fd, uint32_t events, uint32_t generation) {
  if (size_ == capacity_) return;
  add(fd, events);
  nodes_[size_ - 1].check_generation = true;
  nodes_[size_ - 1].generation = generation;
}

void FdWaitSet::set_events(size_t i, uint32_t events) { nodes_[i].events = events | kWakeOnHangup; }

void FdWaitSet::unlink_all() {
  for (size_t i = 0; i < size_; ++i) unlink_wait_node(&nodes_[i]);
}

FdWaitSet::Result FdWaitSet::park(Hub& hub, const AbsDeadline& deadline, Signals signals,
                                  SignalScope scope, TakenSignal* taken) {
  Poller& poller = Poller::current();
  WaitToken token = hub.prepare_park();
  Result failure = Result::kWoken;
  for (size_t i = 0; i < size_ && failure == Result::kWoken; ++i) {
    WaitNode& n = nodes_[i];
    FdState* e = FdTable::get(n.fd);
    if (e == nullptr) {
      failure = Result::kClosed;
      break;
    }
    int rc = poller.arm(n.fd, *e);
    if (rc == -EPERM && skip_unpollable_) continue;
    if (rc != 0) {
      failure = rc == -EBADF ? Result::kClosed : Result::kUnpollable;
      break;
    }
    n.token = token;
    n.poller = &poller;
    std::lock_guard<SpinLock> lock(e->lock);
    if (n.check_generation && e->generation.load(std::memory_order_acquire) != n.generation) {
      failure = Result::kClosed;  // closed (and perhaps reused) under the call
      break;
    }
    n.prev = nullptr;
    n.next = e->waiters;
    if (e->waiters != nullptr) e->waiters->prev = &n;
    e->waiters = &n;
    n.entry.store(e, std::memory_order_release);
  }
  if (failure != Result::kWoken) {
    unlink_all();
    hub.cancel_park(token);
    return failure;
  }
  WakeReason reason;
  bool signaled;
  {
    InterruptibleWait interruptible(hub, token,
                                    signals == Signals::kAnyHandler
                                        ? InterruptibleWait::Kind::kSleep
                                        : InterruptibleWait::Kind::kRestartable,
                                    scope);
    if (trace::on()) trace::note_wait_fd(size_ == 1 ? nodes_[0].fd : -1);
    reason = hub.park(token, deadline.to_hub());
    if (trace::on()) trace::note_wait_fd(-1);  // not taken if the park did not switch
    unlink_all();
    signaled = interruptible.interrupted();
    if (taken != nullptr) *taken = interruptible.taken();
  }
  if (taken != nullptr && taken->sig != 0) return Result::kSignalTaken;
  if (signaled) return Result::kSignaled;
  switch (reason) {
    case WakeReason::kTimedOut:
      return Result::kTimedOut;
    case WakeReason::kInterrupted:
      return Result::kInterrupted;
    case WakeReason::kWoken:
    case WakeReason::kBlockedForever:
      break;
  }
  return Result::kWoken;
}

}  // namespace greenhub::preload
