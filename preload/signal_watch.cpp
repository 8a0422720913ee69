// PendingSignalWatch: see signal_watch.hpp.
#include "signal_watch.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fd_table.hpp"
#include "process_fork.hpp"
#include "real.hpp"

namespace greenhub::preload {
namespace {

// The kernel's signal set: the first NSIG-1 bits.
constexpr size_t kKernelSetBytes = sizeof(unsigned long);

bool same_set(const sigset_t& a, const sigset_t& b) { return std::memcmp(&a, &b, kKernelSetBytes) == 0; }

bool empty_set(const sigset_t& set) {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&set, sig) == 1 && sig != SIGKILL && sig != SIGSTOP) return false;
  }
  return true;
}

// The OS thread's watches: a few, since a thread rarely has more than one
// signal wait at a time (one per green thread of the hub).
struct WatchCache {
  static constexpr int kSlots = 4;
  struct Slot {
    int fd = -1;
    bool busy = false;
    sigset_t set;
  };
  Slot slots[kSlots];

  ~WatchCache() {
    for (Slot& s : slots) {
      if (s.fd >= 0) FdTable::release_private(s.fd);
    }
  }

  // A free watch of `set`; -1 if every slot is busy or none could be made.
  int take(const sigset_t& set) {
    Slot* reuse = nullptr;
    for (Slot& s : slots) {
      if (s.busy || s.fd < 0) continue;
      if (same_set(s.set, set)) return claim(s);
      reuse = &s;
    }
    if (reuse != nullptr) {
      const int saved = errno;
      const bool changed = signalfd(reuse->fd, &set, 0) >= 0;
      errno = saved;
      if (changed) {
        reuse->set = set;
        return claim(*reuse);
      }
    }
    for (Slot& s : slots) {
      if (s.fd >= 0) continue;
      s.fd = make(set);
      if (s.fd < 0) return -1;
      s.set = set;
      return claim(s);
    }
    return -1;
  }

  // false: fd is not cached (the caller closes it).
  bool give_back(int fd) {
    for (Slot& s : slots) {
      if (s.fd == fd) {
        s.busy = false;
        return true;
      }
    }
    return false;
  }

  static int claim(Slot& s) {
    s.busy = true;
    return s.fd;
  }

  static int make(const sigset_t& set) {
    const int saved = errno;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd >= 0) fd = FdTable::make_private(fd);
    errno = saved;
    return fd;
  }
};

thread_local WatchCache watch_cache;

// In a forked child, on the forking thread: FdTable closed the private
// descriptors; the cache must not release the numbers the child reuses.
void forget_watches_in_child() {
  for (WatchCache::Slot& s : watch_cache.slots) s = WatchCache::Slot{};
}

__attribute__((constructor)) void register_watch_fork_hook() { at_fork_child(&forget_watches_in_child); }

}  // namespace

PendingSignalWatch::PendingSignalWatch(const sigset_t& set) {
  if (empty_set(set)) return;
  fd_ = watch_cache.take(set);
  if (fd_ < 0) fd_ = WatchCache::make(set);  // every cached watch busy: one for this wait
}

PendingSignalWatch::~PendingSignalWatch() {
  if (fd_ >= 0 && !watch_cache.give_back(fd_)) FdTable::release_private(fd_);
}

sigset_t signals_unblocked_by(const sigset_t* wait_mask) {
  sigset_t out;
  sigemptyset(&out);
  if (wait_mask == nullptr) return out;
  sigset_t blocked;
  GREENHUB_REAL(pthread_sigmask)(SIG_BLOCK, nullptr, &blocked);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (sigismember(&blocked, sig) == 1 && sigismember(wait_mask, sig) != 1) sigaddset(&out, sig);
  }
  return out;
}

}  // namespace greenhub::preload
