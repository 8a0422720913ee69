// DrainedInput: a green read on a TCP socket known to be empty parks first,
// instead of making a read that fails with EAGAIN.
//
// Why
//   A request/response peer (an echo ping-pong, HTTP keep-alive) reads a
//   request, writes the answer, and reads again before the next request
//   came. Reading speculatively costs that second read a system call that
//   answers EAGAIN before the green thread parks: three calls a request
//   where an epoll server makes two.
//
// How it works
//   The pollers (netpoll.hpp) watch every socket edge-triggered, with a
//   registration that lasts until close. Each FdState counts `input_edges`:
//   a poller bumps it when it drains an EPOLLIN, EPOLLRDHUP, EPOLLHUP or
//   EPOLLERR event of the entry's current file (whatever hub it belongs
//   to), and FdTable bumps it whenever the number changes file. A
//   read-like attempt (recv, recvfrom, read, readv, recvmsg) loads the
//   count S before its system call; when the call returns fewer bytes than
//   asked and more than 0, the socket's receive queue was empty at that
//   moment, and the entry records "drained at S" (drained_at = S + 1). The
//   next read-like call parks first if the count is still S (no input edge
//   drained since) and the caller's own poller watches the file; after the
//   wake-up it reads as usual. A full read, EOF, an error, MSG_PEEK and
//   shutdown() clear the mark.
//
// Why it is safe (the invariant)
//   If the receive queue holds data when a call parks first, an event for
//   it is pending in the poller the call parks on, so the park ends at the
//   hub's next drain:
//   - The short read emptied the queue: any byte there now arrived after
//     that system call, and its arrival called the socket's data_ready,
//     which queues the registration on the ready list of every epoll
//     instance that watches the file (kernel: ep_poll_callback).
//   - The caller's poller watches the file (its bit, current generation and
//     fork epoch; an ADD or MOD made later evaluates readiness at once, so
//     a registration younger than the data is as good). That event is
//     still on the ready list, or the poller drained it; draining bumped
//     the count past S (S was loaded before the read, so before the data
//     came), and the call reads instead of parking.
//   - A stale S (loaded before another poller's bump, or a racing reader's
//     older mark overwriting a newer one) only makes the count differ: no
//     skip. The count never goes back, so an old mark never matches again
//     (a close, dup2 onto it or a reuse of the number bumps it too).
//   - Other readers (a racing thread, a dup, a child after fork, poll,
//     select or the program's own epoll instance) only take data away or
//     look at it: none adds data without the kernel calling data_ready.
//   - A timed wait (SO_RCVTIMEO) ends with one more attempt, as the
//     kernel's own wait looks at the queue once more before EAGAIN; a
//     signal gives EINTR, as for a blocking read of an empty queue.
//   So a wrong guess can cost a wake-up's latency, never a wrong result.
//
// Where a short read does not mean drained, the mark is never used:
//   - only TCP sockets (AF_INET/AF_INET6 SOCK_STREAM, protocol 0 or TCP):
//     a Unix stream read stops after a message carrying descriptors or
//     (SO_PASSCRED) other credentials, at an MSG_OOB byte; SEQPACKET, SCTP
//     and datagram sockets return one message at a time;
//   - a TCP read stops at the urgent mark, and after the last byte a
//     received FIN (EOF) or a connection error stays readable with no
//     further edge: once any poller saw EPOLLPRI (reported while urgent
//     data waits), EPOLLRDHUP, EPOLLHUP or EPOLLERR on the socket,
//     kInputStays turns the mark off for the socket's life. Their edge came
//     after the mark's count was loaded (the count differs), or before the
//     call decides (the bit is set), or it is still on the ready list of
//     the caller's poller (the park ends at once);
//   - only plain flags (none but MSG_NOSIGNAL and MSG_CMSG_CLOEXEC), not
//     MSG_WAITALL (its own loop), MSG_PEEK (leaves the data there);
//   - only descriptors created through the preload and never dup'd
//     (kOwned, not kMayBeShared): their poller registration is trusted
//     without a re-registration per wait (netpoll.hpp);
//   - never when the program's O_NONBLOCK is set (MSG_DONTWAIT calls go to
//     libc): such a call must try and answer EAGAIN, never park;
//   - only the attempt on the descriptor's own number marks it, not one on
//     the private duplicate a closed descriptor's waiters move to.
// Not reproduced: a read whose buffer faults part way returns the bytes it
// copied while more may wait; the next read then waits for new data.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "fd_table.hpp"
#include "netpoll.hpp"

namespace greenhub::preload {

// A poller drained an input event of the entry's current file.
inline void note_input_edge(FdState& e) { e.input_edges.fetch_add(1, std::memory_order_acq_rel); }

// The entry's data may have come without an input edge the mark knows of.
inline void forget_drained(FdState& e) { e.drained_at.store(0, std::memory_order_release); }

// One read-like call of a green thread on a socket.
class DrainedInput {
 public:
  DrainedInput(int fd, FdState& e, int flags) : fd_(fd), entry_(e) {
    if (flags & MSG_PEEK) forget_drained(e);
    using namespace fd_bits;
    const uint32_t b = e.get_bits();
    eligible_ = (b & (kTcp | kOwned | kMayBeShared | kInputStays)) == (kTcp | kOwned) &&
                (flags & ~(MSG_NOSIGNAL | MSG_CMSG_CLOEXEC)) == 0;
  }

  // Whether the call parks before its first attempt.
  bool wait_first() const {
    if (!eligible_) return false;
    const uint64_t mark = entry_.drained_at.load(std::memory_order_acquire);
    if (mark == 0 || mark - 1 != entry_.input_edges.load(std::memory_order_acquire)) return false;
    if (entry_.has(fd_bits::kInputStays) || FdTable::program_nonblock(fd_, entry_)) return false;
    const Poller* poller = Poller::current_if_exists();
    return poller != nullptr && poller->watches(entry_);
  }

  // Loaded before each attempt's system call.
  uint64_t edges() const { return entry_.input_edges.load(std::memory_order_acquire); }

  // After an attempt on `fd` that started when the count was `edges`:
  // `result` is the call's, `asked()` the bytes it could have returned.
  template <class Asked>
  void attempted(int fd, uint64_t edges, ssize_t result, Asked asked) {
    if (!eligible_ || fd != fd_) return;
    if (result > 0 && static_cast<size_t>(result) < asked()) {
      entry_.drained_at.store(edges + 1, std::memory_order_release);
    } else if (result >= 0 || errno != EAGAIN) {
      forget_drained(entry_);
    }
  }

 private:
  int fd_;
  FdState& entry_;
  bool eligible_ = false;
};

}  // namespace greenhub::preload
