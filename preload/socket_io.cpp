// Reading and writing, green: read, write, readv, writev, recv, recvfrom,
// recvmsg, recvmmsg, send, sendto, sendmsg, sendmmsg, sendfile(64), the
// fortified __read_chk, __recv_chk, __recvfrom_chk, and glibc's aliases
// __read, __write, __recv, __send, __sendmmsg.
//
// Every attempt is non-blocking by itself, so the descriptor's kernel flags
// stay the program's and what the preload cannot see (stdio, raw system
// calls) still blocks (DESIGN.md principle 2): on a socket with
// MSG_DONTWAIT (read and write are recv and send there, readv and writev
// recvmsg and sendmsg); on a pipe or an anonymous inode with
// preadv2/pwritev2(RWF_NOWAIT). Where RWF_NOWAIT is not supported (old
// kernels, inotify) the call waits for readiness, then makes the libc call.
// Writes to anonymous inodes (eventfd: blocks only at counter overflow) go
// to libc. sendfile has no per-call form: the output socket or pipe, if the
// process created it, is non-blocking in the kernel for the duration of the
// call. Regular files, ttys and devices go to libc. A read on a TCP socket
// that a short read found empty waits before its first attempt
// (drained_input.hpp). The waiting loops are green_io.hpp's.
//
// What the program sees is what the blocking call returns:
//   - a read returns as soon as anything is there, 0 at EOF; recv with
//     MSG_WAITALL on a stream socket waits for all of it;
//   - a write on a stream socket or a pipe moves everything unless an
//     error, a timeout or a signal stops it, and then returns what it
//     moved; datagrams and records go whole;
//   - SIGPIPE: the first attempt raises it as the kernel does; a
//     continuation after partial progress on a socket uses MSG_NOSIGNAL,
//     since the kernel returns the partial count without the signal there
//     (on a pipe it signals either way, as the retry does);
//   - EAGAIN at once on a descriptor the program made non-blocking (or
//     with MSG_DONTWAIT), and when SO_RCVTIMEO / SO_SNDTIMEO expire;
//   - every other error comes from the kernel's own answer to an attempt.
//
// Not reproduced: MSG_PEEK|MSG_WAITALL returns what is there rather than
// waiting for the full length; sendmmsg of stream-socket messages larger
// than the free buffer sends them in part; MSG_FASTOPEN goes to libc.
#undef _FILE_OFFSET_BITS  // sendfile and sendfile64 are both defined here
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "busy_poll.hpp"
#include "drained_input.hpp"
#include "fd_table.hpp"
#include "green_io.hpp"
#include "interposed_call.hpp"
#include "real.hpp"
#include "runtime.hpp"

extern "C" [[noreturn]] void __chk_fail(void);

using namespace greenhub;
using namespace greenhub::preload;
using namespace greenhub::preload::fd_bits;

namespace {

// A private, advanceable copy of an iovec array.
class IovCursor {
 public:
  IovCursor(const iovec* iov, int count) : count_(count) {
    if (count <= kInline) {
      iov_ = inline_;
    } else {
      heap_.reset(new iovec[count]);
      iov_ = heap_.get();
    }
    if (count > 0) std::memcpy(iov_, iov, sizeof(iovec) * static_cast<size_t>(count));
  }
  void advance(size_t n) {
    while (count_ > 0 && n >= iov_->iov_len) {
      n -= iov_->iov_len;
      ++iov_;
      --count_;
    }
    if (count_ > 0 && n > 0) {
      iov_->iov_base = static_cast<char*>(iov_->iov_base) + n;
      iov_->iov_len -= n;
    }
  }
  iovec* data() { return iov_; }
  int count() const { return count_; }

 private:
  static constexpr int kInline = 8;
  iovec inline_[kInline];
  std::unique_ptr<iovec[]> heap_;
  iovec* iov_;
  int count_;
};

size_t iov_total(const iovec* iov, int count) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

bool is_stream(const FdState& e) { return e.has(kStream); }

// The caller's iovecs from `done` bytes on, copied once the kernel has
// read them (never before: a bad pointer must be the kernel's EFAULT).
class IovRest {
 public:
  IovRest(const iovec* iov, size_t count) : iov_(iov), count_(count) {}
  size_t total() {
    if (total_ == kUnknown) total_ = iov_total(iov_, static_cast<int>(count_));
    return total_;
  }
  // The iovecs for the bytes after `done` (done > 0).
  IovCursor& after(size_t done) {
    if (!cursor_) cursor_.reset(new IovCursor(iov_, static_cast<int>(count_)));
    cursor_->advance(done - advanced_);
    advanced_ = done;
    return *cursor_;
  }

 private:
  static constexpr size_t kUnknown = ~size_t{0};
  const iovec* iov_;
  size_t count_;
  size_t total_ = kUnknown;
  size_t advanced_ = 0;
  std::unique_ptr<IovCursor> cursor_;
};

// --- attempts -----------------------------------------------------------------

ssize_t nowait_readv(int fd, const iovec* iov, int count) {
  return GREENHUB_REAL(preadv2)(fd, iov, count, -1, RWF_NOWAIT);
}

ssize_t nowait_writev(int fd, const iovec* iov, int count) {
  return GREENHUB_REAL(pwritev2)(fd, iov, count, -1, RWF_NOWAIT);
}

// Pipes and anonymous inodes: nowait(note) runs the call's loop of
// RWF_NOWAIT attempts, each result passed through note(result, first). An
// attempt that finds RWF_NOWAIT unsupported (old kernels, inotify:
// EOPNOTSUPP before anything moved) ends the loop; from then on the
// descriptor's calls wait until poll says `events`, then call libc.
template <class Nowait, class Libc>
ssize_t nowait_or_poll(Hub& hub, int fd, FdState& e, uint32_t no_nowait_bit, short events,
                       const char* label, Nowait nowait, Libc libc) {
  if (!e.has(no_nowait_bit)) {
    bool unsupported = false;
    auto note = [&unsupported](ssize_t x, bool first) {
      if (x < 0 && errno == EOPNOTSUPP && first) {
        unsupported = true;
        errno = EINVAL;  // ends the loop; replaced below
      }
      return x;
    };
    ssize_t r = nowait(note);
    if (!unsupported) return r;
    e.set_bits(no_nowait_bit);
  }
  return poll_then_call(hub, fd, e, events, label, libc);
}

// After an accumulated socket send made progress, the kernel would not
// raise SIGPIPE any more: neither may the continuation.
int continuation_flags(int flags, size_t done) {
  return flags | MSG_DONTWAIT | (done > 0 ? MSG_NOSIGNAL : 0);
}

// --- socket receive --------------------------------------------------------------

ssize_t green_recvfrom(Hub& hub, int fd, FdState& e, void* buf, size_t n, int flags,
                       sockaddr* addr, socklen_t* addrlen) {
  if ((flags & MSG_WAITALL) && !(flags & MSG_PEEK) && is_stream(e)) {
    return wait_transfer(
        hub, fd, e, SockTimeout::kReceive, "recv", EPOLLIN, [n] { return n; }, true,
        [&](int f, size_t done) {
          return GREENHUB_REAL(recvfrom)(f, static_cast<char*>(buf) + done, n - done,
                                         flags | MSG_DONTWAIT, done == 0 ? addr : nullptr,
                                         done == 0 ? addrlen : nullptr);
        },
        [&](int f, size_t done) {
          return GREENHUB_REAL(recvfrom)(f, static_cast<char*>(buf) + done, n - done, flags,
                                         done == 0 ? addr : nullptr, done == 0 ? addrlen : nullptr);
        });
  }
  DrainedInput drained(fd, e, flags);
  return wait_input(
      hub, fd, e, SockTimeout::kReceive, "recv",
      [&](int f) {
        const uint64_t edges = drained.edges();
        ssize_t r = GREENHUB_REAL(recvfrom)(f, buf, n, flags | MSG_DONTWAIT, addr, addrlen);
        drained.attempted(f, edges, r, [n] { return n; });
        return r;
      },
      [&](int f) { return GREENHUB_REAL(recvfrom)(f, buf, n, flags, addr, addrlen); },
      drained.wait_first());
}

// Descriptors received with SCM_RIGHTS were created unseen.
void note_received_descriptors(const msghdr* msg) {
  if (msg->msg_control == nullptr || msg->msg_controllen < sizeof(cmsghdr)) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, fds + i, sizeof fd);
      FdTable::forget(fd);
    }
  }
}

// The caller's msghdr is read only after the kernel accepted it.
ssize_t green_recvmsg(Hub& hub, int fd, FdState& e, msghdr* msg, int flags) {
  ssize_t r;
  if ((flags & MSG_WAITALL) && !(flags & MSG_PEEK) && is_stream(e)) {
    std::unique_ptr<IovRest> rest;
    auto rest_of = [&]() -> IovRest& {
      if (!rest) rest.reset(new IovRest(msg->msg_iov, msg->msg_iovlen));
      return *rest;
    };
    auto attempt = [&](int f, size_t done, int call_flags) -> ssize_t {
      if (done == 0) return GREENHUB_REAL(recvmsg)(f, msg, call_flags);
      IovCursor& c = rest_of().after(done);
      msghdr more{};
      more.msg_iov = c.data();
      more.msg_iovlen = static_cast<size_t>(c.count());
      return GREENHUB_REAL(recvmsg)(f, &more, call_flags);
    };
    r = wait_transfer(
        hub, fd, e, SockTimeout::kReceive, "recvmsg", EPOLLIN, [&] { return rest_of().total(); },
        true, [&](int f, size_t done) { return attempt(f, done, flags | MSG_DONTWAIT); },
        [&](int f, size_t done) { return attempt(f, done, flags); });
  } else {
    DrainedInput drained(fd, e, flags);
    r = wait_input(
        hub, fd, e, SockTimeout::kReceive, "recvmsg",
        [&](int f) {
          const uint64_t edges = drained.edges();
          ssize_t x = GREENHUB_REAL(recvmsg)(f, msg, flags | MSG_DONTWAIT);
          drained.attempted(f, edges, x, [msg] {
            return iov_total(msg->msg_iov, static_cast<int>(msg->msg_iovlen));
          });
          return x;
        },
        [&](int f) { return GREENHUB_REAL(recvmsg)(f, msg, flags); }, drained.wait_first());
  }
  if (r >= 0) note_received_descriptors(msg);
  return r;
}

// --- socket send ------------------------------------------------------------------

ssize_t green_sendto(Hub& hub, int fd, FdState& e, const void* buf, size_t n, int flags,
                     const sockaddr* addr, socklen_t addrlen) {
  return wait_transfer(
      hub, fd, e, SockTimeout::kSend, "send", EPOLLOUT, [n] { return n; }, is_stream(e),
      [&](int f, size_t done) {
        return GREENHUB_REAL(sendto)(f, static_cast<const char*>(buf) + done, n - done,
                                     continuation_flags(flags, done), addr, addrlen);
      },
      [&](int f, size_t done) {
        return GREENHUB_REAL(sendto)(f, static_cast<const char*>(buf) + done, n - done,
                                     flags | (done > 0 ? MSG_NOSIGNAL : 0), addr, addrlen);
      });
}

// The caller's msghdr is read only after the kernel accepted it.
ssize_t green_sendmsg(Hub& hub, int fd, FdState& e, const msghdr* msg, int flags) {
  std::unique_ptr<IovRest> rest;
  auto rest_of = [&]() -> IovRest& {
    if (!rest) rest.reset(new IovRest(msg->msg_iov, msg->msg_iovlen));
    return *rest;
  };
  auto attempt = [&](int f, size_t done, int call_flags) -> ssize_t {
    if (done == 0) return GREENHUB_REAL(sendmsg)(f, msg, call_flags);
    // The rest of the bytes, without the ancillary data already sent.
    IovCursor& c = rest_of().after(done);
    msghdr more{};
    more.msg_name = msg->msg_name;
    more.msg_namelen = msg->msg_namelen;
    more.msg_iov = c.data();
    more.msg_iovlen = static_cast<size_t>(c.count());
    return GREENHUB_REAL(sendmsg)(f, &more, call_flags | MSG_NOSIGNAL);
  };
  return wait_transfer(
      hub, fd, e, SockTimeout::kSend, "sendmsg", EPOLLOUT, [&] { return rest_of().total(); },
      is_stream(e), [&](int f, size_t done) { return attempt(f, done, flags | MSG_DONTWAIT); },
      [&](int f, size_t done) { return attempt(f, done, flags); });
}

// --- read and write on any kind ------------------------------------------------------

// read(), readv(): `single` is read()'s buffer (iov is then a copy of it),
// nullptr for readv, whose iovecs only the kernel reads.
ssize_t green_readv(Hub& hub, int fd, FdState& e, const iovec* iov, int count, const void* single,
                    bool retried = false) {
  auto libc = [&](int f) {
    InterposedCall blocking(single != nullptr ? "read" : "readv");  // for the blocking monitor
    return single != nullptr ? GREENHUB_REAL(read)(f, const_cast<void*>(single), iov[0].iov_len)
                             : GREENHUB_REAL(readv)(f, iov, count);
  };
  switch (FdTable::kind(fd, e)) {
    case FdKind::kSocket: {
      ssize_t r;
      if (single != nullptr) {
        r = green_recvfrom(hub, fd, e, const_cast<void*>(single), iov[0].iov_len, 0, nullptr, nullptr);
      } else {
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov);
        msg.msg_iovlen = static_cast<size_t>(count);
        r = green_recvmsg(hub, fd, e, &msg, 0);
      }
      if (r < 0 && errno == ENOTSOCK && !retried) {
        FdTable::forget(fd);  // the number changed file unseen
        return green_readv(hub, fd, e, iov, count, single, true);
      }
      return r;
    }
    case FdKind::kPipe:
    case FdKind::kAnon:
      return nowait_or_poll(
          hub, fd, e, kNoNowaitRead, POLLIN, "read",
          [&](auto note) {
            return wait_input(
                hub, fd, e, SockTimeout::kNone, "read",
                [&](int f) { return note(nowait_readv(f, iov, count), true); }, libc);
          },
          libc);
    case FdKind::kPrivate:
    case FdKind::kUnknown:
    case FdKind::kPassthrough:
      break;
  }
  count_decided(trace::Route::kRegularFile);
  return libc(fd);
}

ssize_t green_writev(Hub& hub, int fd, FdState& e, const iovec* iov, int count, const void* single,
                     bool retried = false) {
  auto libc = [&](int f) {
    InterposedCall blocking(single != nullptr ? "write" : "writev");  // for the blocking monitor
    return single != nullptr ? GREENHUB_REAL(write)(f, single, iov[0].iov_len)
                             : GREENHUB_REAL(writev)(f, iov, count);
  };
  switch (FdTable::kind(fd, e)) {
    case FdKind::kSocket: {
      ssize_t r;
      if (single != nullptr) {
        r = green_sendto(hub, fd, e, single, iov[0].iov_len, 0, nullptr, 0);
      } else {
        msghdr msg{};
        msg.msg_iov = const_cast<iovec*>(iov);
        msg.msg_iovlen = static_cast<size_t>(count);
        r = green_sendmsg(hub, fd, e, &msg, 0);
      }
      if (r < 0 && errno == ENOTSOCK && !retried) {
        FdTable::forget(fd);
        return green_writev(hub, fd, e, iov, count, single, true);
      }
      return r;
    }
    case FdKind::kAnon:
      return libc(fd);
    case FdKind::kPipe: {
      IovRest rest(iov, static_cast<size_t>(count));
      return nowait_or_poll(
          hub, fd, e, kNoNowaitWrite, POLLOUT, "write",
          [&](auto note) {
            return wait_transfer(
                hub, fd, e, SockTimeout::kNone, "write", EPOLLOUT, [&] { return rest.total(); }, true,
                [&](int f, size_t done) {
                  if (done == 0) return note(nowait_writev(f, iov, count), true);
                  IovCursor& c = rest.after(done);
                  return note(nowait_writev(f, c.data(), c.count()), false);
                },
                [&](int f, size_t done) {
                  if (done == 0) return GREENHUB_REAL(writev)(f, iov, count);
                  IovCursor& c = rest.after(done);
                  return GREENHUB_REAL(writev)(f, c.data(), c.count());
                });
          },
          libc);
    }
    case FdKind::kPrivate:
    case FdKind::kUnknown:
    case FdKind::kPassthrough:
      break;
  }
  count_decided(trace::Route::kRegularFile);
  return libc(fd);
}

bool valid_iovcnt(int count) { return count > 0 && count <= IOV_MAX; }

// --- sendfile --------------------------------------------------------------------------

template <class Sendfile, class Offset>
ssize_t green_sendfile(Sendfile real, int out_fd, int in_fd, Offset* offset, size_t count) {
  Hub* hub;
  FdState* e;
  if (!green_entry(out_fd, &hub, &e) || count == 0) return real(out_fd, in_fd, offset, count);
  cancellation_point();
  const FdKind kind = FdTable::kind(out_fd, *e);
  if ((kind != FdKind::kSocket && kind != FdKind::kPipe) || FdTable::program_nonblock(out_fd, *e)) {
    return real(out_fd, in_fd, offset, count);
  }
  if (!e->has(kOwned)) {
    return poll_then_call(*hub, out_fd, *e, POLLOUT, "sendfile",
                          [&](int f) { return real(f, in_fd, offset, count); });
  }
  if (!FdTable::alter(out_fd, *e, true)) return real(out_fd, in_fd, offset, count);
  // Into a socket the kernel moves the whole count, or up to the end of
  // the input; into a pipe, what fits once there is room.
  size_t limit = count;
  ssize_t r = wait_transfer(
      *hub, out_fd, *e, kind == FdKind::kSocket ? SockTimeout::kSend : SockTimeout::kNone,
      "sendfile", EPOLLOUT, [&limit] { return limit; }, kind == FdKind::kSocket,
      [&](int f, size_t done) {
        ssize_t moved = real(f, in_fd, offset, count - done);
        // Short: the socket is full, or the input ended. Asked again until
        // it answers EAGAIN (full: wait for room) or 0 (the input's end).
        while (moved > 0 && kind == FdKind::kSocket && done + static_cast<size_t>(moved) < count) {
          const size_t so_far = done + static_cast<size_t>(moved);
          ssize_t more = real(f, in_fd, offset, count - so_far);
          if (more == 0) limit = so_far;
          if (more <= 0) break;
          moved += more;
        }
        return moved;
      },
      [&](int f, size_t done) { return real(f, in_fd, offset, count - done); });
  FdTable::restore(out_fd, *e);
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------
// The interposed names.

extern "C" {

ssize_t read(int fd, void* buf, size_t n) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || n == 0) return GREENHUB_REAL(read)(fd, buf, n);
  cancellation_point();
  iovec one{buf, n};
  return green_readv(*hub, fd, *e, &one, 1, buf);
}

ssize_t __read(int fd, void* buf, size_t n) { return read(fd, buf, n); }

ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) __chk_fail();
  return read(fd, buf, n);
}

ssize_t write(int fd, const void* buf, size_t n) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || n == 0) return GREENHUB_REAL(write)(fd, buf, n);
  // Writes to anonymous inodes do not wait (an eventfd blocks only when
  // its counter would overflow) and include the runtime's own: libev's
  // ev_async_send writes its eventfd from any thread and from signal
  // handlers. They go to libc with no more work than this lookup.
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind == FdKind::kAnon) return GREENHUB_REAL(write)(fd, buf, n);
  cancellation_point();
  iovec one{const_cast<void*>(buf), n};
  return green_writev(*hub, fd, *e, &one, 1, buf);
}

ssize_t __write(int fd, const void* buf, size_t n) { return write(fd, buf, n); }

ssize_t readv(int fd, const struct iovec* iov, int count) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || !valid_iovcnt(count)) return GREENHUB_REAL(readv)(fd, iov, count);
  cancellation_point();
  return green_readv(*hub, fd, *e, iov, count, nullptr);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || !valid_iovcnt(count)) return GREENHUB_REAL(writev)(fd, iov, count);
  cancellation_point();
  return green_writev(*hub, fd, *e, iov, count, nullptr);
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* addr, socklen_t* addrlen) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE))) {
    const ssize_t r = GREENHUB_REAL(recvfrom)(fd, buf, n, flags, addr, addrlen);
    if (r < 0 && errno == EAGAIN && (hub = green_hub()) != nullptr) note_returned_without_waiting(*hub);
    return r;
  }
  cancellation_point();
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind != FdKind::kSocket) return GREENHUB_REAL(recvfrom)(fd, buf, n, flags, addr, addrlen);
  return green_recvfrom(*hub, fd, *e, buf, n, flags, addr, addrlen);
}

ssize_t recv(int fd, void* buf, size_t n, int flags) { return recvfrom(fd, buf, n, flags, nullptr, nullptr); }

ssize_t __recv(int fd, void* buf, size_t n, int flags) { return recv(fd, buf, n, flags); }

ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) __chk_fail();
  return recv(fd, buf, n, flags);
}

ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, struct sockaddr* addr,
                       socklen_t* addrlen) {
  if (n > buflen) __chk_fail();
  return recvfrom(fd, buf, n, flags, addr, addrlen);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE))) {
    ssize_t r = GREENHUB_REAL(recvmsg)(fd, msg, flags);
    if (r >= 0) note_received_descriptors(msg);
    return r;
  }
  cancellation_point();
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind != FdKind::kSocket) return GREENHUB_REAL(recvmsg)(fd, msg, flags);
  return green_recvmsg(*hub, fd, *e, msg, flags);
}

int recvmmsg(int fd, struct mmsghdr* vec, unsigned int vlen, int flags, struct timespec* timeout) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE)) || vlen == 0) {
    return GREENHUB_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
  }
  cancellation_point();
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind != FdKind::kSocket) return GREENHUB_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
  // With a timeout, the first attempt passes it to the kernel, which checks
  // it (EFAULT, EINVAL) and, on success, leaves the remaining time in it.
  // The timeout is looked at after each datagram, as the kernel does.
  ErrnoKeeper keep;
  GreenIo io(*hub, fd, *e, SockTimeout::kReceive, "recvmmsg");
  AbsDeadline end = AbsDeadline::never();
  unsigned int done = 0;
  bool first = true;
  auto finish = [&]() {
    if (timeout != nullptr) {
      int64_t left = end.remaining_ns();
      *timeout = ns_to_timespec(left > 0 ? left : 0);
    }
    return keep.success(static_cast<int>(done));
  };
  const int attempt_flags = (flags | MSG_DONTWAIT) & ~MSG_WAITFORONE;
  for (;;) {
    int r;
    if (first && timeout != nullptr) {
      r = GREENHUB_REAL(recvmmsg)(io.fd(), vec, vlen, attempt_flags, timeout);
      if (r < 0 && errno != EAGAIN) return -1;
      end = AbsDeadline::after_ns(timespec_to_ns(*timeout));
    } else {
      r = GREENHUB_REAL(recvmmsg)(io.fd(), vec + done, vlen - done, attempt_flags, nullptr);
    }
    first = false;
    if (r > 0) {
      for (unsigned int i = done; i < done + static_cast<unsigned int>(r); ++i) {
        note_received_descriptors(&vec[i].msg_hdr);
      }
      done += static_cast<unsigned int>(r);
      if (done == vlen || (flags & MSG_WAITFORONE) || (timeout != nullptr && end.expired())) {
        return finish();
      }
      io.restart_timeout();
    } else if (r < 0 && errno != EAGAIN) {
      return done > 0 ? finish() : -1;
    }
    switch (io.wait(EPOLLIN)) {
      case GreenIo::Verdict::kRetry:
        break;
      case GreenIo::Verdict::kFail:
        return done > 0 ? finish() : -1;
      case GreenIo::Verdict::kBlockInLibc: {
        int b = GREENHUB_REAL(recvmmsg)(io.fd(), vec + done, vlen - done, flags, nullptr);
        if (b > 0) done += static_cast<unsigned int>(b);
        return done > 0 ? finish() : b;
      }
    }
  }
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
               socklen_t addrlen) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || (flags & (MSG_DONTWAIT | MSG_FASTOPEN))) {
    return GREENHUB_REAL(sendto)(fd, buf, n, flags, addr, addrlen);
  }
  cancellation_point();
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind != FdKind::kSocket) return GREENHUB_REAL(sendto)(fd, buf, n, flags, addr, addrlen);
  return green_sendto(*hub, fd, *e, buf, n, flags, addr, addrlen);
}

ssize_t send(int fd, const void* buf, size_t n, int flags) { return sendto(fd, buf, n, flags, nullptr, 0); }

ssize_t __send(int fd, const void* buf, size_t n, int flags) { return send(fd, buf, n, flags); }

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || (flags & (MSG_DONTWAIT | MSG_FASTOPEN))) {
    return GREENHUB_REAL(sendmsg)(fd, msg, flags);
  }
  cancellation_point();
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind != FdKind::kSocket) return GREENHUB_REAL(sendmsg)(fd, msg, flags);
  return green_sendmsg(*hub, fd, *e, msg, flags);
}

int sendmmsg(int fd, struct mmsghdr* vec, unsigned int vlen, int flags) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e) || (flags & MSG_DONTWAIT) || vlen == 0) {
    return GREENHUB_REAL(sendmmsg)(fd, vec, vlen, flags);
  }
  cancellation_point();
  const FdKind kind = FdTable::kind(fd, *e);
  if (kind != FdKind::kSocket) return GREENHUB_REAL(sendmmsg)(fd, vec, vlen, flags);
  ErrnoKeeper keep;
  GreenIo io(*hub, fd, *e, SockTimeout::kSend, "sendmmsg");
  unsigned int done = 0;
  for (;;) {
    int r = GREENHUB_REAL(sendmmsg)(io.fd(), vec + done, vlen - done,
                                    flags | MSG_DONTWAIT | (done > 0 ? MSG_NOSIGNAL : 0));
    if (r > 0) {
      done += static_cast<unsigned int>(r);
      if (done == vlen) return keep.success(static_cast<int>(done));
    } else if (r < 0 && errno != EAGAIN) {
      return done > 0 ? keep.success(static_cast<int>(done)) : -1;
    }
    switch (io.wait(EPOLLOUT)) {
      case GreenIo::Verdict::kRetry:
        break;
      case GreenIo::Verdict::kFail:
        return done > 0 ? keep.success(static_cast<int>(done)) : -1;
      case GreenIo::Verdict::kBlockInLibc: {
        int b = GREENHUB_REAL(sendmmsg)(io.fd(), vec + done, vlen - done, flags);
        if (b > 0) done += static_cast<unsigned int>(b);
        return done > 0 ? keep.success(static_cast<int>(done)) : b;
      }
    }
  }
}

int __sendmmsg(int fd, struct mmsghdr* vec, unsigned int vlen, int flags) {
  return sendmmsg(fd, vec, vlen, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  return green_sendfile(GREENHUB_REAL(sendfile), out_fd, in_fd, offset, count);
}

ssize_t sendfile64(int out_fd, int in_fd, off64_t* offset, size_t count) {
  return green_sendfile(GREENHUB_REAL(sendfile64), out_fd, in_fd, offset, count);
}

}  // extern "C"
