// FdTable: what the preload knows about each file descriptor of the process.
//
// How it works
//   An array indexed by descriptor number, in chunks of 1024 entries that are
//   allocated on first use and never freed or moved; a lookup is two loads
//   and takes no lock. Each entry (FdState) holds:
//     - generation: bumped whenever the preload sees the number change file
//       (created, closed, dup2'd onto). Poller registrations carry it, so an
//       event of an old file never wakes a waiter of the number's new file.
//     - kind: socket, pipe, anonymous inode, passthrough (regular file, tty,
//       device: libc's own blocking) or private. Set at creation by the shims
//       that create descriptors, or learned lazily (fstat, SO_TYPE) for a
//       descriptor the process got another way (inherited, opened by libc).
//     - the program's O_NONBLOCK and SO_RCVTIMEO/SO_SNDTIMEO, cached.
//     - the green threads waiting on it, from any hub (a list under the
//       entry's SpinLock), and which hubs' pollers have it registered
//       (netpoll.hpp).
//
// Owned descriptors
//   A descriptor created through the shims (socket, socketpair, accept,
//   pipe, epoll_create, and the dups of those) is owned: its kind is known
//   and its O_NONBLOCK cache is trusted. Any other descriptor is re-checked
//   where it matters (F_GETFL before each green wait, a fresh poller
//   registration), because libc and other processes can change it unseen.
//
// Caches
//   O_NONBLOCK and the socket timeouts belong to the open file description,
//   which dup'd descriptors share. A change made through a descriptor that
//   may be shared (dup'd, or not owned) bumps a process-wide state epoch,
//   which invalidates every cached value; a cache is used only while its
//   epoch is current.
//
// Altered descriptors
//   accept has no per-call non-blocking form, so a listening socket the
//   process created gets O_NONBLOCK in the kernel (and connect and sendfile
//   set it for the duration of the call). Such an entry is "altered": the
//   program's own flag is the shadow bit, which F_GETFL, F_SETFL and FIONBIO
//   read and write. Dups copy the alteration; a change of the shadow is
//   propagated to every entry with the same socket inode.
//
// Private descriptors
//   The runtime's own descriptors: each hub's libev loop (its epoll backend
//   and wake-up eventfd, recognised when libev's code creates them), each
//   poller's epoll instance, and a closed descriptor's duplicate kept for
//   the green threads still waiting on it. The program cannot close them:
//   close, close_range, closefrom and dup2/dup3 onto one behave as for a
//   closed number (EBADF, or skipped), so a daemon's "close every
//   descriptor" loop leaves the runtime working. All are moved high (below
//   min(RLIMIT_NOFILE, 1024); libev's as its epoll_create1, eventfd or pipe
//   returns), so that the program's lowest-free numbering is undisturbed.
//   Other calls on them go to libc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "greenhub/runtime.hpp"
#include "greenhub/spin_lock.hpp"

namespace greenhub::preload {

enum class FdKind : uint8_t {
  kUnknown = 0,  // not learned since the number last changed
  kSocket,
  kPipe,         // FIFO: pipe(2) or a named pipe
  kAnon,         // anonymous inode: eventfd, timerfd, signalfd, inotify, epoll...
  kPassthrough,  // regular file, directory, tty, device: libc, unchanged
  kPrivate,      // the runtime's own descriptor
};

namespace fd_bits {
constexpr uint32_t kOwned = 1u << 0;           // created through the preload
constexpr uint32_t kStream = 1u << 1;          // SOCK_STREAM socket
constexpr uint32_t kSeqPacket = 1u << 2;       // SOCK_SEQPACKET socket
constexpr uint32_t kNonblockKnown = 1u << 3;   // kNonblock is cached (owned only)
constexpr uint32_t kNonblock = 1u << 4;        // the program's O_NONBLOCK (cached)
constexpr uint32_t kAltered = 1u << 5;         // the preload set O_NONBLOCK in the kernel
constexpr uint32_t kShadowNonblock = 1u << 6;  // the program's O_NONBLOCK while altered
constexpr uint32_t kMayBeShared = 1u << 7;     // dup'd or not owned
constexpr uint32_t kNoNowaitRead = 1u << 8;    // RWF_NOWAIT reads unsupported: poll, then read
constexpr uint32_t kNoNowaitWrite = 1u << 9;   // RWF_NOWAIT writes unsupported
constexpr uint32_t kTransient = 1u << 10;      // altered for one call (connect, sendfile)
constexpr uint32_t kListening = 1u << 11;      // listen() succeeded on it
constexpr uint32_t kWaitDuplicate = 1u << 12;  // private: a closed file kept for its waiters
constexpr uint32_t kTcp = 1u << 13;            // AF_INET/AF_INET6 SOCK_STREAM, TCP (drained_input.hpp)
constexpr uint32_t kInputStays = 1u << 14;     // urgent data, EOF or error seen (drained_input.hpp)
}  // namespace fd_bits

struct WaitNode;
class Poller;

struct FdState {
  std::atomic<uint32_t> generation{0};
  std::atomic<uint8_t> kind{0};
  SpinLock lock;                        // guards `waiters` and resets
  std::atomic<uint32_t> bits{0};        // fd_bits
  std::atomic<uint32_t> state_epoch{0};  // epoch of the cached O_NONBLOCK and timeouts
  std::atomic<uint32_t> pollers_epoch{0};
  std::atomic<int64_t> rcvtimeo_ns{-1};  // -1: not cached; 0: none
  std::atomic<int64_t> sndtimeo_ns{-1};
  std::atomic<uint64_t> pollers{0};     // bit i: registered in poller i (bit 63: in one >= 63)
  std::atomic<uint32_t> private_refs{0};  // private duplicate: waiters still using it
  std::atomic<uint64_t> inode{0};       // altered: the socket's inode
  // drained_input.hpp: input edges the pollers drained (also bumped when
  // the number changes file), and 1 + the count a read saw when it drained
  // the socket (0: not known drained).
  std::atomic<uint64_t> input_edges{0};
  std::atomic<uint64_t> drained_at{0};
  WaitNode* waiters = nullptr;          // under `lock`

  FdKind get_kind() const { return static_cast<FdKind>(kind.load(std::memory_order_acquire)); }
  uint32_t get_bits() const { return bits.load(std::memory_order_acquire); }
  bool has(uint32_t b) const { return (get_bits() & b) != 0; }
  void set_bits(uint32_t b) { bits.fetch_or(b, std::memory_order_acq_rel); }
  void clear_bits(uint32_t b) { bits.fetch_and(~b, std::memory_order_acq_rel); }
};

// Which socket timeout a wait honours.
enum class SockTimeout : uint8_t { kNone, kReceive, kSend };

class FdTable {
 public:
  static constexpr int kChunkBits = 10;
  static constexpr int kChunkSize = 1 << kChunkBits;
  static constexpr int kMaxChunks = 1024;  // descriptors below 1 << 20 (Linux's nr_open default)

  // The entry of fd, allocating its chunk; nullptr for a negative or huge fd.
  static FdState* get(int fd) {
    if (fd < 0 || fd >= kChunkSize * kMaxChunks) return nullptr;
    FdState* chunk = chunks_[fd >> kChunkBits].load(std::memory_order_acquire);
    if (chunk == nullptr) chunk = allocate_chunk(fd >> kChunkBits);
    return &chunk[fd & (kChunkSize - 1)];
  }
  // The entry of fd if its chunk exists (never allocates).
  static FdState* find(int fd) {
    if (fd < 0 || fd >= kChunkSize * kMaxChunks) return nullptr;
    FdState* chunk = chunks_[fd >> kChunkBits].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : &chunk[fd & (kChunkSize - 1)];
  }
  // One past the highest descriptor that has an entry.
  static int limit();

  // The entry's kind, learned now if unknown. kUnknown means fd is not
  // open (the caller lets libc answer EBADF).
  static FdKind kind(int fd, FdState& e);

  // --- creation and destruction, as seen through the shims -----------------
  // fd was just created by the process through a shim.
  static void created(int fd, FdKind kind, uint32_t bits, bool nonblock, int64_t timeouts_ns);
  // newfd was just made a duplicate of oldfd (dup, dup2, dup3, F_DUPFD).
  static void duplicated(int oldfd, int newfd);
  // fd was created by means the preload did not see: forget what it knew.
  static void forget(int fd);
  // fd is about to be closed (or replaced by dup2/dup3): waiters move to a
  // private duplicate of the file, pollers drop it, the generation moves on.
  static void closing(int fd);

  // --- the program's view ---------------------------------------------------
  // The program's O_NONBLOCK for fd (shadow, cache, or F_GETFL).
  static bool program_nonblock(int fd, FdState& e);
  // The program set O_NONBLOCK to `nonblock` through fd (F_SETFL, FIONBIO).
  static void set_program_nonblock(int fd, FdState& e, bool nonblock);
  // The socket timeout for `which` in nanoseconds (0: none).
  static int64_t socket_timeout_ns(int fd, FdState& e, SockTimeout which);
  // A socket option that the cache holds changed through fd.
  static void socket_timeouts_changed(FdState& e);
  // Something shared by several descriptors changed: every cache is stale.
  static void bump_state_epoch();
  static uint32_t state_epoch() { return state_epoch_.load(std::memory_order_acquire); }

  // --- alteration -------------------------------------------------------------
  // Sets O_NONBLOCK in the kernel for a call that has no per-call form,
  // keeping the program's flag as the shadow. `transient`: until restore().
  // Returns false (errno set) if the flag could not be changed.
  static bool alter(int fd, FdState& e, bool transient);
  // Ends a transient alteration: the kernel flag is the program's again.
  static void restore(int fd, FdState& e);

  // --- private descriptors ----------------------------------------------------
  // Moves a new runtime descriptor high and marks it private; returns the
  // new number (or fd itself if it could not be moved).
  static int make_private(int fd);
  static bool is_private(int fd);
  // The runtime closes one of its own: the number is the program's again.
  static void release_runtime(int fd);
  // Whether a call returning to `address` comes from libev's code (the
  // hubs' loops create and close their descriptors through the shims).
  static bool called_by_event_loop(const void* address);
  // Drops one waiter's reference to a private duplicate; the last closes it.
  static void release_private(int fd);
  // Calls fn(lo, hi) for each maximal range of [first, last] that holds no
  // private descriptor (close_range must not close the runtime's own).
  template <class Fn>
  static void for_each_public_range(unsigned first, unsigned last, Fn&& fn);
  // In a child made by fork(): every waiter belonged to a thread that does
  // not exist here, any lock may have been held by one; the private
  // descriptors but `keep` (the surviving poller's) are closed.
  static void reset_in_forked_child(int keep);
  // The private descriptors in [first, last], ascending.
  static std::vector<int> private_in(unsigned first, unsigned last);

 private:
  static FdState* allocate_chunk(int index);
  static void learn(int fd, FdState& e);

  static std::atomic<FdState*> chunks_[kMaxChunks];
  static std::atomic<uint32_t> state_epoch_;
};

template <class Fn>
void FdTable::for_each_public_range(unsigned first, unsigned last, Fn&& fn) {
  unsigned lo = first;
  for (int p : private_in(first, last)) {
    unsigned u = static_cast<unsigned>(p);
    if (u > lo) fn(lo, u - 1);
    lo = u + 1;
  }
  if (lo >= first && lo <= last) fn(lo, last);
}

}  // namespace greenhub::preload
