#include "fd_table.hpp"

#include <dlfcn.h>
#include <ev.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <new>

#include "netpoll.hpp"
#include "real.hpp"

namespace greenhub::preload {

std::atomic<FdState*> FdTable::chunks_[FdTable::kMaxChunks];
std::atomic<uint32_t> FdTable::state_epoch_{1};

namespace {

using namespace fd_bits;

// The runtime's private descriptors, ascending.
SpinLock private_lock;
std::vector<int>& private_fds() {
  static auto* fds = new std::vector<int>();  // never destroyed: used during exit
  return *fds;
}

void add_private(int fd) {
  std::lock_guard<SpinLock> lock(private_lock);
  auto& v = private_fds();
  v.insert(std::lower_bound(v.begin(), v.end(), fd), fd);
}

void remove_private(int fd) {
  std::lock_guard<SpinLock> lock(private_lock);
  auto& v = private_fds();
  auto it = std::lower_bound(v.begin(), v.end(), fd);
  if (it != v.end() && *it == fd) v.erase(it);
}

// Where private descriptors go: high below min(RLIMIT_NOFILE, 1024), so
// that they neither shift the program's lowest-free numbering nor grow the
// kernel's descriptor table much.
int private_base() {
  rlimit rl{};
  rlim_t soft = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) soft = rl.rlim_cur;
  rlim_t top = std::min<rlim_t>(soft, 1024);
  rlim_t base = top > 128 ? top - 64 : top / 2;
  return static_cast<int>(std::max<rlim_t>(base, 3));
}

// A close-on-exec duplicate of fd placed high; -1 if none could be made.
int duplicate_high(int fd) {
  int y = GREENHUB_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, private_base());
  if (y < 0) y = GREENHUB_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0);
  return y;
}

uint32_t socket_type_bits(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  if (GREENHUB_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return 0;
  if (type == SOCK_STREAM) return kStream;
  if (type == SOCK_SEQPACKET) return kSeqPacket;
  return 0;
}

void link_node(FdState& e, WaitNode* node) {
  node->prev = nullptr;
  node->next = e.waiters;
  if (e.waiters != nullptr) e.waiters->prev = node;
  e.waiters = node;
  node->entry.store(&e, std::memory_order_release);
}

void unlink_node(FdState& e, WaitNode* node) {
  if (node->prev != nullptr) node->prev->next = node->next;
  else e.waiters = node->next;
  if (node->next != nullptr) node->next->prev = node->prev;
  node->prev = node->next = nullptr;
  node->entry.store(nullptr, std::memory_order_release);
}

// Under e.lock: the number gets a new identity. Green threads still linked
// (their file was closed by means the preload did not see) are woken: they
// find the generation moved on and fail with EBADF.
uint64_t renew_locked(FdState& e) {
  e.generation.fetch_add(1, std::memory_order_acq_rel);
  e.input_edges.fetch_add(1, std::memory_order_acq_rel);  // voids a drained mark (drained_input.hpp)
  for (WaitNode* n = e.waiters; n != nullptr; n = n->next) Hub::wake(n->token);
  e.inode.store(0, std::memory_order_relaxed);
  e.private_refs.store(0, std::memory_order_relaxed);
  return e.pollers.exchange(0, std::memory_order_acq_rel);
}

// Under e.lock, on a fresh epoch: caches are empty.
void refresh_epoch(FdState& e) {
  uint32_t g = FdTable::state_epoch();
  if (e.state_epoch.load(std::memory_order_acquire) == g) return;
  e.clear_bits(kNonblockKnown);
  e.rcvtimeo_ns.store(-1, std::memory_order_relaxed);
  e.sndtimeo_ns.store(-1, std::memory_order_relaxed);
  e.state_epoch.store(g, std::memory_order_release);
}

}  // namespace

FdState* FdTable::allocate_chunk(int index) {
  auto* fresh = new FdState[kChunkSize];
  FdState* expected = nullptr;
  if (chunks_[index].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) return fresh;
  delete[] fresh;
  return expected;
}

int FdTable::limit() {
  for (int i = kMaxChunks - 1; i >= 0; --i) {
    if (chunks_[i].load(std::memory_order_acquire) != nullptr) return (i + 1) * kChunkSize;
  }
  return 0;
}

FdKind FdTable::kind(int fd, FdState& e) {
  FdKind k = e.get_kind();
  if (k != FdKind::kUnknown) return k;
  learn(fd, e);
  return e.get_kind();
}

void FdTable::learn(int fd, FdState& e) {
  // Lock-free: write() learns libev's own eventfd here, possibly inside a
  // signal handler (ev_async_send), possibly interrupting this very code.
  const int saved = errno;
  const uint32_t generation = e.generation.load(std::memory_order_acquire);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    errno = saved;
    return;  // not open: stays unknown, libc answers
  }
  FdKind k;
  uint32_t b = kMayBeShared;
  switch (st.st_mode & S_IFMT) {
    case S_IFSOCK:
      k = FdKind::kSocket;
      b |= socket_type_bits(fd);
      break;
    case S_IFIFO:
      k = FdKind::kPipe;
      break;
    case 0:
      k = FdKind::kAnon;
      break;
    default:
      k = FdKind::kPassthrough;
      break;
  }
  errno = saved;
  if (e.generation.load(std::memory_order_acquire) != generation) return;
  uint8_t unknown = static_cast<uint8_t>(FdKind::kUnknown);
  e.bits.store(b, std::memory_order_release);
  e.kind.compare_exchange_strong(unknown, static_cast<uint8_t>(k), std::memory_order_acq_rel);
}

void FdTable::created(int fd, FdKind kind, uint32_t bits, bool nonblock, int64_t timeouts_ns) {
  FdState* e = get(fd);
  if (e == nullptr) return;
  uint64_t stale;
  {
    std::lock_guard<SpinLock> lock(e->lock);
    stale = renew_locked(*e);
    e->bits.store(bits | kOwned | kNonblockKnown | (nonblock ? kNonblock : 0), std::memory_order_relaxed);
    e->rcvtimeo_ns.store(timeouts_ns, std::memory_order_relaxed);
    e->sndtimeo_ns.store(timeouts_ns, std::memory_order_relaxed);
    e->state_epoch.store(state_epoch(), std::memory_order_relaxed);
    e->kind.store(static_cast<uint8_t>(kind), std::memory_order_release);
  }
  (void)stale;  // the old file is gone: the kernel dropped its registrations
}

void FdTable::duplicated(int oldfd, int newfd) {
  FdState* o = get(oldfd);
  FdState* n = get(newfd);
  if (o == nullptr || n == nullptr || o == n) return;
  o->set_bits(kMayBeShared);
  FdKind kind = o->get_kind();
  uint32_t bits = o->get_bits();
  if (bits & kTransient) bits &= ~(kAltered | kShadowNonblock | kTransient);
  bits = (bits & (kOwned | kStream | kSeqPacket | kNonblockKnown | kNonblock | kAltered |
                  kShadowNonblock | kNoNowaitRead | kNoNowaitWrite)) |
         kMayBeShared;
  if (kind == FdKind::kPrivate) {
    kind = FdKind::kUnknown;  // never: dup of a private descriptor is refused
    bits = 0;
  }
  std::lock_guard<SpinLock> lock(n->lock);
  renew_locked(*n);
  n->bits.store(bits, std::memory_order_relaxed);
  n->rcvtimeo_ns.store(o->rcvtimeo_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->sndtimeo_ns.store(o->sndtimeo_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->state_epoch.store(o->state_epoch.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->inode.store(o->inode.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->kind.store(static_cast<uint8_t>(kind), std::memory_order_release);
}

void FdTable::forget(int fd) {
  FdState* e = find(fd);
  if (e == nullptr) return;
  std::lock_guard<SpinLock> lock(e->lock);
  if (e->get_kind() == FdKind::kPrivate) return;
  renew_locked(*e);
  e->bits.store(0, std::memory_order_relaxed);
  e->kind.store(static_cast<uint8_t>(FdKind::kUnknown), std::memory_order_release);
}

void FdTable::closing(int fd) {
  FdState* e = find(fd);
  if (e == nullptr) return;
  const int saved = errno;
  int dup_fd = -1;
  FdState* dup_entry = nullptr;
  Poller* pollers[8];
  int poller_count = 0;
  bool many_pollers = false;
  uint64_t registered;
  {
    std::lock_guard<SpinLock> lock(e->lock);
    if (e->get_kind() == FdKind::kPrivate) return;
    if (e->waiters != nullptr) {
      // Green threads are blocked on this descriptor. The kernel keeps a
      // blocked call's file alive across close(): so does a private
      // duplicate, and the waiters move to it.
      dup_fd = duplicate_high(fd);
      if (dup_fd >= 0) {
        add_private(dup_fd);
        dup_entry = get(dup_fd);
      }
      if (dup_entry != nullptr) {
        std::lock_guard<SpinLock> dup_lock(dup_entry->lock);
        renew_locked(*dup_entry);
        dup_entry->bits.store(e->get_bits() | kOwned | kWaitDuplicate, std::memory_order_relaxed);
        dup_entry->kind.store(static_cast<uint8_t>(FdKind::kPrivate), std::memory_order_release);
        uint32_t refs = 0;
        while (WaitNode* node = e->waiters) {
          unlink_node(*e, node);
          node->fd = dup_fd;
          node->moved = true;
          node->check_generation = false;
          link_node(*dup_entry, node);
          ++refs;
          bool seen = false;
          for (int i = 0; i < poller_count; ++i) seen = seen || pollers[i] == node->poller;
          if (!seen) {
            if (poller_count < 8) pollers[poller_count++] = node->poller;
            else many_pollers = true;
          }
        }
        dup_entry->private_refs.store(refs, std::memory_order_release);
      } else if (dup_fd >= 0) {
        GREENHUB_REAL(close)(dup_fd);
        remove_private(dup_fd);
      }
    }
    registered = renew_locked(*e);  // wakes any waiter left (no duplicate possible)
    e->bits.store(0, std::memory_order_relaxed);
    e->rcvtimeo_ns.store(-1, std::memory_order_relaxed);
    e->sndtimeo_ns.store(-1, std::memory_order_relaxed);
    e->kind.store(static_cast<uint8_t>(FdKind::kUnknown), std::memory_order_release);
  }
  if (dup_entry != nullptr) {
    for (int i = 0; i < poller_count; ++i) pollers[i]->arm_from_any_thread(dup_fd, *dup_entry);
    if (many_pollers) {
      // More hubs than tracked: wake everyone, they re-arm on their own hub.
      std::lock_guard<SpinLock> lock(dup_entry->lock);
      for (WaitNode* n = dup_entry->waiters; n != nullptr; n = n->next) Hub::wake(n->token);
    }
  }
  Poller::forget(fd, registered);
  errno = saved;
}

bool FdTable::program_nonblock(int fd, FdState& e) {
  uint32_t b = e.get_bits();
  if (b & kAltered) return (b & kShadowNonblock) != 0;
  if ((b & kOwned) && (b & kNonblockKnown) &&
      e.state_epoch.load(std::memory_order_acquire) == state_epoch()) {
    return (b & kNonblock) != 0;
  }
  const int saved = errno;
  int fl = GREENHUB_REAL(fcntl)(fd, F_GETFL);
  errno = saved;
  if (fl < 0) return false;  // closed: the next attempt reports it
  bool nonblock = (fl & O_NONBLOCK) != 0;
  if (b & kOwned) {
    refresh_epoch(e);
    e.set_bits(kNonblockKnown);
    if (nonblock) e.set_bits(kNonblock);
    else e.clear_bits(kNonblock);
  }
  return nonblock;
}

void FdTable::set_program_nonblock(int fd, FdState& e, bool nonblock) {
  (void)fd;
  uint32_t b = e.get_bits();
  if (b & kAltered) {
    const uint64_t inode = e.inode.load(std::memory_order_acquire);
    auto set_shadow = [nonblock](FdState& x) {
      if (nonblock) x.set_bits(kShadowNonblock);
      else x.clear_bits(kShadowNonblock);
    };
    set_shadow(e);
    if ((b & kMayBeShared) && inode != 0) {
      // The flag belongs to the open file: every dup of it sees the change.
      const int n = limit();
      for (int i = 0; i < n; ++i) {
        FdState* x = find(i);
        if (x != nullptr && x != &e && x->has(kAltered) &&
            x->inode.load(std::memory_order_acquire) == inode) {
          set_shadow(*x);
        }
      }
    }
    return;
  }
  if (b & kMayBeShared) bump_state_epoch();
  refresh_epoch(e);
  e.set_bits(kNonblockKnown);
  if (nonblock) e.set_bits(kNonblock);
  else e.clear_bits(kNonblock);
}

int64_t FdTable::socket_timeout_ns(int fd, FdState& e, SockTimeout which) {
  if (which == SockTimeout::kNone) return 0;
  refresh_epoch(e);
  std::atomic<int64_t>& slot = which == SockTimeout::kReceive ? e.rcvtimeo_ns : e.sndtimeo_ns;
  int64_t v = slot.load(std::memory_order_acquire);
  if (v >= 0) return v;
  const int saved = errno;
  timeval tv{};
  socklen_t len = sizeof tv;
  int opt = which == SockTimeout::kReceive ? SO_RCVTIMEO : SO_SNDTIMEO;
  v = 0;
  if (GREENHUB_REAL(getsockopt)(fd, SOL_SOCKET, opt, &tv, &len) == 0) {
    v = static_cast<int64_t>(tv.tv_sec) * 1000000000 + static_cast<int64_t>(tv.tv_usec) * 1000;
  }
  errno = saved;
  slot.store(v, std::memory_order_release);
  return v;
}

void FdTable::socket_timeouts_changed(FdState& e) {
  if (e.has(kMayBeShared)) bump_state_epoch();
  e.rcvtimeo_ns.store(-1, std::memory_order_release);
  e.sndtimeo_ns.store(-1, std::memory_order_release);
}

void FdTable::bump_state_epoch() { state_epoch_.fetch_add(1, std::memory_order_acq_rel); }

bool FdTable::alter(int fd, FdState& e, bool transient) {
  if (e.has(kAltered)) return true;
  const int saved = errno;
  if (transient) {
    // The caller knows the program's flag is off (a blocking call).
    int on = 1;
    if (GREENHUB_REAL(ioctl)(fd, FIONBIO, &on) != 0) return false;
    e.clear_bits(kShadowNonblock);
    e.set_bits(kAltered | kTransient);
    errno = saved;
    return true;
  }
  int fl = GREENHUB_REAL(fcntl)(fd, F_GETFL);
  if (fl < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  if (!(fl & O_NONBLOCK) && GREENHUB_REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) != 0) return false;
  const uint64_t inode = static_cast<uint64_t>(st.st_ino);
  auto mark = [&](FdState& x) {
    x.inode.store(inode, std::memory_order_release);
    if (fl & O_NONBLOCK) x.set_bits(kShadowNonblock);
    else x.clear_bits(kShadowNonblock);
    x.set_bits(kAltered);
  };
  mark(e);
  if (e.has(kMayBeShared)) {
    // Dups made before: the kernel flag changed for them too.
    const int n = limit();
    for (int i = 0; i < n; ++i) {
      FdState* x = find(i);
      if (x == nullptr || x == &e || x->get_kind() != FdKind::kSocket || x->has(kAltered)) continue;
      struct stat other;
      if (fstat(i, &other) == 0 && other.st_ino == st.st_ino && other.st_dev == st.st_dev) mark(*x);
    }
  }
  errno = saved;
  return true;
}

void FdTable::restore(int fd, FdState& e) {
  uint32_t b = e.get_bits();
  if (!(b & kTransient)) return;
  const int saved = errno;
  int nonblock = (b & kShadowNonblock) ? 1 : 0;
  GREENHUB_REAL(ioctl)(fd, FIONBIO, &nonblock);
  e.clear_bits(kAltered | kTransient | kShadowNonblock);
  if (b & kOwned) {
    refresh_epoch(e);
    e.set_bits(kNonblockKnown);
    if (nonblock) e.set_bits(kNonblock);
    else e.clear_bits(kNonblock);
  }
  errno = saved;
}

int FdTable::make_private(int fd) {
  int y = GREENHUB_REAL(fcntl)(fd, F_DUPFD_CLOEXEC, private_base());
  if (y >= 0) {
    GREENHUB_REAL(close)(fd);
  } else {
    y = fd;
  }
  FdState* e = get(y);
  if (e != nullptr) {
    std::lock_guard<SpinLock> lock(e->lock);
    renew_locked(*e);
    e->bits.store(kOwned, std::memory_order_relaxed);
    e->private_refs.store(1, std::memory_order_relaxed);  // the runtime's own reference
    e->kind.store(static_cast<uint8_t>(FdKind::kPrivate), std::memory_order_release);
  }
  add_private(y);
  return y;
}

void FdTable::release_runtime(int fd) {
  FdState* e = find(fd);
  if (e == nullptr) return;
  uint64_t registered;
  {
    std::lock_guard<SpinLock> lock(e->lock);
    registered = renew_locked(*e);
    e->bits.store(0, std::memory_order_relaxed);
    e->kind.store(static_cast<uint8_t>(FdKind::kUnknown), std::memory_order_release);
  }
  Poller::forget(fd, registered);
  remove_private(fd);
}

bool FdTable::called_by_event_loop(const void* address) {
  static const void* const libev_base = [] {
    Dl_info info{};
    return dladdr(reinterpret_cast<void*>(&ev_run), &info) != 0 ? info.dli_fbase : nullptr;
  }();
  Dl_info info{};
  return libev_base != nullptr && dladdr(address, &info) != 0 && info.dli_fbase == libev_base;
}

bool FdTable::is_private(int fd) {
  FdState* e = find(fd);
  return e != nullptr && e->get_kind() == FdKind::kPrivate;
}

void FdTable::release_private(int fd) {
  FdState* e = find(fd);
  if (e == nullptr || e->get_kind() != FdKind::kPrivate) return;
  if (e->private_refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  const int saved = errno;
  release_runtime(fd);
  GREENHUB_REAL(close)(fd);
  errno = saved;
}

void FdTable::reset_in_forked_child(int keep) {
  // Only the duplicates kept for waiters go: their waiters do not exist
  // here. The runtime's own descriptors are the hub's and pollers' concern.
  new (&private_lock) SpinLock();
  std::vector<int> privates;
  privates.swap(private_fds());
  for (int i = 0; i < kMaxChunks; ++i) {
    FdState* chunk = chunks_[i].load(std::memory_order_acquire);
    if (chunk == nullptr) continue;
    for (int j = 0; j < kChunkSize; ++j) {
      FdState& e = chunk[j];
      new (&e.lock) SpinLock();
      e.waiters = nullptr;
      e.pollers.store(0, std::memory_order_relaxed);
    }
  }
  for (int fd : privates) {
    FdState* x = find(fd);
    if (fd == keep || x == nullptr || !x->has(kWaitDuplicate)) {
      private_fds().push_back(fd);  // the runtime's own: the hub's code decides
      continue;
    }
    FdState* e = find(fd);
    if (e != nullptr) {
      e->generation.fetch_add(1, std::memory_order_relaxed);
      e->private_refs.store(0, std::memory_order_relaxed);
      e->bits.store(0, std::memory_order_relaxed);
      e->kind.store(static_cast<uint8_t>(FdKind::kUnknown), std::memory_order_release);
    }
    GREENHUB_REAL(close)(fd);
  }
}

std::vector<int> FdTable::private_in(unsigned first, unsigned last) {
  std::vector<int> out;
  std::lock_guard<SpinLock> lock(private_lock);
  for (int fd : private_fds()) {
    unsigned u = static_cast<unsigned>(fd);
    if (u >= first && u <= last) out.push_back(fd);
  }
  return out;
}

}  // namespace greenhub::preload
