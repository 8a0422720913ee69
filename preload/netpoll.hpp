// Netpoll: how green threads wait for descriptors (after Go's netpoll).
//
// How it works
//   Each hub has a Poller: an epoll instance of its own (a private
//   descriptor), watched by the hub's libev loop as one ev_io. A descriptor
//   joins a hub's poller the first time a green thread of that hub waits on
//   it, edge-triggered for every event (EPOLLIN|EPOLLOUT|EPOLLPRI|EPOLLRDHUP|
//   EPOLLET) with data = fd | generation << 32, and stays registered until
//   it is closed: a wait on a known socket costs no epoll_ctl. When the
//   poller's epoll descriptor is readable, the hub drains it (epoll_wait,
//   zero timeout) and, for each event whose generation is the entry's
//   current one, wakes the waiters of this hub whose interest matches.
//
//   Why not one libev ev_io per wait: ev_io_start costs an epoll_ctl per
//   wait, and libev's epoll backend cannot tell a closed-and-reused number
//   from the old file unless told ("the special problem of disappearing file
//   descriptors" in ev(3)) nor keep dup'd descriptors apart ("the special
//   problem of dup'ed file descriptors"): registrations keyed by number and
//   generation, and dropped by closing(), solve both.
//
//   No edge is lost: a green thread checks (a non-blocking attempt or a
//   zero-timeout poll), then arms its descriptors and parks with no switch
//   in between, and its hub drains the poller only after the park. An event
//   after the check is an edge the poller still holds; registering
//   (EPOLL_CTL_ADD or MOD) evaluates readiness at once. Stale edges only
//   cause a spurious wake-up, after which the caller checks again.
//
// Invariants
//   - A WaitNode is linked on the list of the entry of the descriptor it
//     waits on only while its green thread is parked, under that entry's
//     lock; its token is the park's, so the first wake wins.
//   - FdTable::closing moves the nodes of a descriptor being closed to a
//     private duplicate of its file, registered in the nodes' pollers, as the
//     kernel keeps a blocked call's file alive: waiters keep waiting on the
//     file they started with, and never see the number's next file.
//   - Registrations are hints: a descriptor that is not an owned socket or
//     epoll instance is re-registered (MOD, ADD on ENOENT) before every
//     wait, since libc may have closed and reused its number unseen.
#pragma once

#include <ev.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "deadline.hpp"
#include "fd_table.hpp"
#include "greenhub/runtime.hpp"
#include "signal_interrupt.hpp"

namespace greenhub::preload {

// One descriptor of one green wait.
struct WaitNode {
  WaitToken token;
  Poller* poller = nullptr;
  uint32_t events = 0;       // EPOLLIN / EPOLLOUT / EPOLLPRI
  int fd = -1;               // the descriptor waited on (under the entry's lock)
  bool moved = false;        // fd is a private duplicate this wait holds a reference on
  bool check_generation = false;  // fail with kClosed if the number changed file
  uint32_t generation = 0;
  std::atomic<FdState*> entry{nullptr};  // the list holding the node (nullptr: unlinked)
  WaitNode* prev = nullptr;
  WaitNode* next = nullptr;
};

class Poller {
 public:
  // The calling hub's poller, created on first use (on the hub's thread).
  static Poller& current();
  // The calling hub's poller, or nullptr if it has none yet.
  static Poller* current_if_exists();

  // Whether this poller holds a registration of the entry's current file
  // (its bit, in the current fork epoch; index < 63: bit 63 is shared).
  bool watches(const FdState& e) const {
    return index_ < 63 && e.pollers_epoch.load(std::memory_order_acquire) == epoch() &&
           (e.pollers.load(std::memory_order_acquire) & bit()) != 0;
  }

  // Makes sure the poller watches fd under the entry's current generation.
  // Returns 0, or -errno: -EPERM for a file epoll refuses (regular files),
  // -EBADF for a closed descriptor, -ELOOP and others for nesting limits.
  int arm(int fd, FdState& e);
  // Registers a private duplicate from any thread (FdTable::closing).
  int arm_from_any_thread(int fd, FdState& e);

  // Drops fd from every poller whose bit is in `mask` (before it is closed).
  static void forget(int fd, uint64_t mask);
  // The poller registrations of every entry are stale (after fork).
  static uint32_t epoch() { return epoch_.load(std::memory_order_acquire); }

  // In a child made by fork() (process_fork.hpp's hook).
  static void after_fork_in_child();

  Hub* hub() const { return hub_; }
  int index() const { return index_; }
  uint64_t bit() const { return index_ < 63 ? (1ull << index_) : (1ull << 63); }

  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  // Its thread (and hub) ends: stops watching, closes its instance.
  void retire();

 private:
  Poller(Hub& hub, int index, int epfd);
  static void on_ready(struct ev_loop* loop, ev_io* w, int revents);
  void drain();
  void dispatch(uint64_t data, uint32_t events);
  int register_fd(int fd, FdState& e, bool trusted);

  ev_io io_;  // first member: the callback finds the poller from it
  Hub* hub_;
  int index_;
  int epfd_;

  static std::atomic<uint32_t> epoch_;
  friend struct PollerRegistry;
};

// A green thread's wait on one or more descriptors.
class FdWaitSet {
 public:
  explicit FdWaitSet(size_t capacity);
  ~FdWaitSet();
  FdWaitSet(const FdWaitSet&) = delete;
  FdWaitSet& operator=(const FdWaitSet&) = delete;

  void add(int fd, uint32_t events);
  // Like add(), for a call that started on the file of `generation`: the
  // park fails with kClosed if the number holds another file by then.
  void add_expecting(int fd, uint32_t events, uint32_t generation);
  void set_events(size_t i, uint32_t events);
  // A descriptor epoll refuses (EPERM: a regular file, a directory) never
  // changes readiness: poll and select skip it (their probe reports it)
  // instead of failing the park with kUnpollable.
  void skip_unpollable() { skip_unpollable_ = true; }
  size_t size() const { return size_; }
  // The descriptor node i waits on now (a private duplicate of its file
  // after the program closed the original).
  int fd(size_t i) const { return nodes_[i].fd; }
  bool moved(size_t i) const { return nodes_[i].moved; }

  enum class Result {
    kWoken,        // an event, or a spurious wake-up: check again
    kTimedOut,     // the deadline passed
    kInterrupted,  // Hub::interrupt (cancellation): check, act, wait again
    kSignaled,     // a signal handler interrupted the wait: EINTR
    kSignalTaken,  // a signal of scope.takes was sent to the thread (*taken)
    kUnpollable,   // a descriptor epoll refuses: the caller blocks in libc
    kClosed,       // a descriptor is not open (closed under the call)
  };
  // Which signal handlers interrupt the wait (signal_interrupt.hpp): any
  // (poll, select, epoll_wait, a socket call with a timeout set), or only
  // those installed without SA_RESTART (read, recv, accept, ...).
  enum class Signals : uint8_t { kAnyHandler, kNonRestarting };
  // Arms and links every node, parks the calling green thread until one
  // may be ready, the deadline passes, a signal handler or a cancellation
  // interrupts it, and unlinks. `scope` and `taken`: the signals of the
  // wait beyond the thread's mask (signal_interrupt.hpp).
  Result park(Hub& hub, const AbsDeadline& deadline, Signals signals, SignalScope scope = {},
              TakenSignal* taken = nullptr);

 private:
  void unlink_all();

  WaitNode inline_[2];
  std::unique_ptr<WaitNode[]> heap_;
  WaitNode* nodes_;
  size_t size_ = 0;
  size_t capacity_;
  bool skip_unpollable_ = false;
};

// Unlinks `node` from whichever entry holds it now (a concurrent close may
// move it); returns with the node unlinked.
void unlink_wait_node(WaitNode* node);

}  // namespace greenhub::preload
