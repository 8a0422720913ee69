// Making and connecting sockets and pipes, green: socket, socketpair,
// connect, accept, accept4, listen, shutdown, setsockopt, getsockopt, pipe,
// pipe2 (and glibc's __socket, __connect).
//
// Descriptors made here are owned (fd_table.hpp): their kind, socket type
// and O_NONBLOCK are recorded at creation, so the calls on them need no
// lookup. What blocks:
//   - accept: there is no per-call non-blocking accept, so a listening
//     socket the process created gets O_NONBLOCK in the kernel at its first
//     green accept (F_GETFL and FIONBIO keep showing the program's flag; a
//     thread the preload did not make green gets a blocking accept
//     emulated with poll). An inherited listening socket keeps its flags:
//     the green thread waits until poll says readable, then accepts (if
//     another process takes the connection first, that accept blocks).
//     SO_RCVTIMEO bounds the wait (EAGAIN), as the kernel's.
//   - connect on a stream or seqpacket socket: O_NONBLOCK is set for the
//     call, the green thread waits until the connection is made or fails
//     (SO_ERROR), then the flag is the program's again. SO_SNDTIMEO bounds
//     it: a TCP connect then fails with EINPROGRESS (the attempt goes on in
//     the background), as the kernel's. A Unix socket whose listener's
//     backlog is full (EAGAIN) is retried with a backoff of 1 to 64 ms
//     until SO_SNDTIMEO, since no event says when the backlog has room.
//     A socket the process did not create connects in libc.
// Everything else here does not block and goes to libc; the preload only
// records what changed.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "drained_input.hpp"
#include "fd_table.hpp"
#include "green_io.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_interrupt.hpp"

using namespace greenhub;
using namespace greenhub::preload;
using namespace greenhub::preload::fd_bits;

namespace {

uint32_t socket_type_bits(int type) {
  switch (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    case SOCK_STREAM:
      return kStream;
    case SOCK_SEQPACKET:
      return kSeqPacket;
    default:
      return 0;
  }
}

// TCP: the sockets whose short reads mean drained (drained_input.hpp).
uint32_t tcp_bit(int domain, int type, int protocol) {
  const bool stream = (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM;
  const bool inet = domain == AF_INET || domain == AF_INET6;
  return stream && inet && (protocol == 0 || protocol == IPPROTO_TCP) ? kTcp : 0;
}

bool is_listening(int fd, FdState& e) {
  if (e.has(kListening)) return true;
  int on = 0;
  socklen_t len = sizeof on;
  const int saved = errno;
  bool listening = GREENHUB_REAL(getsockopt)(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
  errno = saved;
  if (listening) e.set_bits(kListening);
  return listening;
}

void accepted(int listener, FdState* l, int fd, int flags) {
  if (fd < 0) return;
  uint32_t bits = l != nullptr ? (l->get_bits() & (kStream | kSeqPacket | kTcp)) : 0;
  if (l == nullptr || l->get_kind() != FdKind::kSocket) {
    FdTable::forget(fd);
    (void)listener;
    return;
  }
  // The new socket inherits the listener's timeouts: unknown until read.
  FdTable::created(fd, FdKind::kSocket, bits, (flags & SOCK_NONBLOCK) != 0, -1);
}

int ms_until(const AbsDeadline& d) {
  if (d.infinite) return -1;
  int64_t ns = d.remaining_ns();
  if (ns <= 0) return 0;
  return static_cast<int>(std::min<int64_t>((ns + 999999) / 1000000, 1 << 30));
}

// accept4 for a thread the preload did not make green, on a listening
// socket it altered: the blocking accept the program expects.
int real_thread_accept(int fd, sockaddr* addr, socklen_t* len, int flags) {
  FdState* e = FdTable::find(fd);
  if (e == nullptr || !e->has(kAltered) || e->has(kShadowNonblock)) {
    return GREENHUB_REAL(accept4)(fd, addr, len, flags);
  }
  const int64_t t = FdTable::socket_timeout_ns(fd, *e, SockTimeout::kReceive);
  const AbsDeadline deadline = t > 0 ? AbsDeadline::after_ns(t) : AbsDeadline::never();
  for (;;) {
    int r = GREENHUB_REAL(accept4)(fd, addr, len, flags);
    if (r >= 0 || errno != EAGAIN) return r;
    pollfd p{fd, POLLIN, 0};
    int n = GREENHUB_REAL(poll)(&p, 1, ms_until(deadline));
    if (n < 0) return -1;
    if (n == 0) {
      errno = EAGAIN;
      return -1;
    }
  }
}

int green_accept(Hub& hub, int fd, FdState& e, sockaddr* addr, socklen_t* len, int flags) {
  auto libc = [&](int f) { return GREENHUB_REAL(accept4)(f, addr, len, flags); };
  if ((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0 || FdTable::program_nonblock(fd, e)) {
    return libc(fd);
  }
  if (!e.has(kAltered)) {
    if (!is_listening(fd, e)) return libc(fd);  // EINVAL at once
    if (!e.has(kOwned) || !FdTable::alter(fd, e, false)) {
      // Not ours to change: wait for readiness, then accept.
      return poll_then_call(hub, fd, e, POLLIN, "accept", libc, SockTimeout::kReceive);
    }
  }
  return wait_input(hub, fd, e, SockTimeout::kReceive, "accept", libc, libc);
}

// Parks the calling green thread for `ns` (a backoff step). Returns false
// if a signal handler interrupted it.
bool green_nap(Hub& hub, int64_t ns) {
  WaitToken token = hub.prepare_park();
  InterruptibleWait wait(hub, token, InterruptibleWait::Kind::kRestartable);
  hub.park(token, Deadline::after_seconds(static_cast<double>(ns) / 1e9));
  return !wait.interrupted();
}

// The rest of a connect that answered EINPROGRESS or EALREADY: wait until
// the socket is writable, then connect again. That call finishes the
// connect as the kernel's blocking one would have: 0 (the socket becomes
// SS_CONNECTED, so a third connect is EISCONN), the connection's error
// (the socket is unconnected again, SO_ERROR consumed), or EALREADY while
// still connecting.
int finish_connect(Hub& hub, int fd, FdState& e, int first_error, const sockaddr* addr,
                   socklen_t len) {
  GreenIo io(hub, fd, e, SockTimeout::kSend, "connect");
  io.assume_blocking();
  for (;;) {
    switch (io.wait(EPOLLOUT)) {
      case GreenIo::Verdict::kRetry:
      case GreenIo::Verdict::kBlockInLibc:
        break;
      case GreenIo::Verdict::kFail:
        if (io.timed_out()) errno = first_error;
        return -1;
    }
    if (GREENHUB_REAL(connect)(io.fd(), addr, len) == 0 || errno == EISCONN) return 0;
    if (errno != EALREADY && errno != EINPROGRESS) return -1;
  }
}

// A Unix stream connect whose listener's backlog is full.
int retry_full_backlog(Hub& hub, int fd, FdState& e, const sockaddr* addr, socklen_t len) {
  const int64_t t = FdTable::socket_timeout_ns(fd, e, SockTimeout::kSend);
  const AbsDeadline deadline = t > 0 ? AbsDeadline::after_ns(t) : AbsDeadline::never();
  int64_t step = 1000000;
  for (;;) {
    int64_t nap = step;
    if (!deadline.infinite) nap = std::min(nap, deadline.remaining_ns());
    if (nap <= 0) {
      errno = EAGAIN;
      return -1;
    }
    if (!green_nap(hub, nap)) {
      errno = EINTR;
      return -1;
    }
    cancellation_point();
    int r = GREENHUB_REAL(connect)(fd, addr, len);
    if (r == 0) return 0;
    if (errno == EINPROGRESS || errno == EALREADY) return finish_connect(hub, fd, e, errno, addr, len);
    if (errno != EAGAIN) return -1;
    step = std::min<int64_t>(step * 2, 64000000);
  }
}

int green_connect(Hub& hub, int fd, FdState& e, const sockaddr* addr, socklen_t len) {
  if (FdTable::program_nonblock(fd, e) || !e.has(kOwned) || !e.has(kStream | kSeqPacket) ||
      !FdTable::alter(fd, e, true)) {
    return GREENHUB_REAL(connect)(fd, addr, len);
  }
  ErrnoKeeper keep;
  int r = GREENHUB_REAL(connect)(fd, addr, len);
  if (r != 0) {
    const int error = errno;
    if (error == EINPROGRESS || error == EALREADY) r = finish_connect(hub, fd, e, error, addr, len);
    else if (error == EAGAIN) r = retry_full_backlog(hub, fd, e, addr, len);
  }
  const int error = errno;
  FdTable::restore(fd, e);
  if (r == 0) return keep.success(0);
  errno = error;
  return -1;
}

}  // namespace

extern "C" {

int socket(int domain, int type, int protocol) noexcept {
  int fd = GREENHUB_REAL(socket)(domain, type, protocol);
  if (fd >= 0) {
    FdTable::created(fd, FdKind::kSocket, socket_type_bits(type) | tcp_bit(domain, type, protocol),
                     (type & SOCK_NONBLOCK) != 0, 0);
  }
  return fd;
}

int __socket(int domain, int type, int protocol) noexcept { return socket(domain, type, protocol); }

int socketpair(int domain, int type, int protocol, int fds[2]) noexcept {
  int r = GREENHUB_REAL(socketpair)(domain, type, protocol, fds);
  if (r == 0) {
    for (int i = 0; i < 2; ++i) {
      FdTable::created(fds[i], FdKind::kSocket, socket_type_bits(type), (type & SOCK_NONBLOCK) != 0, 0);
    }
  }
  return r;
}

// libev makes its wake-up pipe with pipe or pipe2 where eventfd is missing.
int pipe2(int fds[2], int flags) noexcept {
  int r = GREENHUB_REAL(pipe2)(fds, flags);
  if (r == 0) {
    const bool runtime = FdTable::called_by_event_loop(__builtin_return_address(0));
    for (int i = 0; i < 2; ++i) {
      if (runtime) fds[i] = FdTable::make_private(fds[i]);
      else FdTable::created(fds[i], FdKind::kPipe, 0, (flags & O_NONBLOCK) != 0, 0);
    }
  }
  return r;
}

int pipe(int fds[2]) noexcept {
  int r = GREENHUB_REAL(pipe)(fds);
  if (r == 0) {
    const bool runtime = FdTable::called_by_event_loop(__builtin_return_address(0));
    for (int i = 0; i < 2; ++i) {
      if (runtime) fds[i] = FdTable::make_private(fds[i]);
      else FdTable::created(fds[i], FdKind::kPipe, 0, false, 0);
    }
  }
  return r;
}

int listen(int fd, int backlog) noexcept {
  int r = GREENHUB_REAL(listen)(fd, backlog);
  if (r == 0) {
    if (FdState* e = FdTable::get(fd)) e->set_bits(kListening);
  }
  return r;
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  Hub* hub;
  FdState* e;
  int r;
  if (!green_entry(fd, &hub, &e)) {
    r = real_thread_accept(fd, addr, len, flags);
    accepted(fd, FdTable::find(fd), r, flags);
    return r;
  }
  cancellation_point();
  switch (FdTable::kind(fd, *e)) {
    case FdKind::kSocket:
      r = green_accept(*hub, fd, *e, addr, len, flags);
      break;
    default:
      return GREENHUB_REAL(accept4)(fd, addr, len, flags);
  }
  accepted(fd, e, r, flags);
  return r;
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) { return accept4(fd, addr, len, 0); }

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  Hub* hub;
  FdState* e;
  if (!green_entry(fd, &hub, &e)) return GREENHUB_REAL(connect)(fd, addr, len);
  cancellation_point();
  switch (FdTable::kind(fd, *e)) {
    case FdKind::kSocket:
      return green_connect(*hub, fd, *e, addr, len);
    default:
      return GREENHUB_REAL(connect)(fd, addr, len);
  }
}

int __connect(int fd, const struct sockaddr* addr, socklen_t len) { return connect(fd, addr, len); }

// The kernel wakes the socket's pollers at a shutdown, but the drained
// mark does not rely on it (drained_input.hpp).
int shutdown(int fd, int how) noexcept {
  if (FdState* e = FdTable::find(fd)) forget_drained(*e);
  return GREENHUB_REAL(shutdown)(fd, how);
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) noexcept {
  int r = GREENHUB_REAL(setsockopt)(fd, level, name, value, len);
  if (r == 0 && level == SOL_SOCKET &&
      (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
       name == SO_SNDTIMEO_NEW)) {
    if (FdState* e = FdTable::get(fd)) FdTable::socket_timeouts_changed(*e);
  }
  return r;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) noexcept {
  return GREENHUB_REAL(getsockopt)(fd, level, name, value, len);
}

}  // extern "C"
