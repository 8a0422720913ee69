// greenhub_echo_server: the echo server a programmer would write against
// greenhub's own C++ API (the gevent way): one greenlet per connection,
// plain blocking-style code that waits on the hub.
//
//   greenhub_echo_server [PORT]      (PORT 0 or absent: any free port)
//
// Listens on 127.0.0.1, prints "listening on 127.0.0.1:PORT", serves until
// SIGTERM or SIGINT, then ends every greenlet (closing its connection),
// prints what it served and exits 0.
//
// How it works
//   Every socket is non-blocking. The acceptor greenlet accepts until
//   EAGAIN, spawning a greenlet per client, then parks in
//   greenhub::wait_readable on the listener. A client's greenlet tries
//   recv first (MSG_DONTWAIT, up to 4 KiB, the legacy server's buffer) and
//   only parks in wait_readable when the socket is empty, then sends the
//   bytes back, parking in wait_writable while the socket does not take
//   them. SIGTERM/SIGINT run greenhub::shutdown in a handler greenlet,
//   which raises GreenletExit in every greenlet at its wait; each
//   connection's descriptor is closed by its greenlet as it unwinds, and
//   main's join of the acceptor returns. Everything runs on one hub (one OS
//   thread). The soft RLIMIT_NOFILE is raised to the hard limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;
using namespace std::chrono_literals;

namespace {

constexpr size_t kBufferSize = 4096;

long served_connections = 0;  // one hub: no lock

// Closes the connection when its greenlet ends, killed or not.
struct ClosesOnExit {
  int fd;
  ~ClosesOnExit() { ::close(fd); }
};

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      gh::wait_writable(fd);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

void serve(int fd) {
  ClosesOnExit closer{fd};
  char buf[kBufferSize];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      if (!send_all(fd, buf, static_cast<size_t>(n))) return;
    } else if (n == 0) {
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      gh::wait_readable(fd);
    } else if (errno != EINTR) {
      return;
    }
  }
}

void accept_forever(int listener) {
  for (;;) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      served_connections++;
      gh::spawn(serve, fd);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      gh::wait_readable(listener);
    } else if (errno == EMFILE || errno == ENFILE) {
      gh::sleep(10ms);  // out of descriptors: let connections end
    } else if (errno != EINTR && errno != ECONNABORTED) {
      std::perror("greenhub_echo_server: accept4");
      return;
    }
  }
}

int listen_on_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  long port = argc == 2 ? std::strtol(argv[1], &end, 10) : 0;
  if (argc > 2 || (argc == 2 && (*argv[1] == '\0' || *end != '\0' || port < 0 || port > 65535))) {
    std::fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
    return 2;
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  int listener = listen_on_loopback(static_cast<int>(port));
  if (listener < 0) {
    std::perror("greenhub_echo_server: listen");
    return 1;
  }
  gh::signal_handler(SIGTERM, gh::shutdown);
  gh::signal_handler(SIGINT, gh::shutdown);
  std::printf("listening on 127.0.0.1:%d\n", bound_port(listener));
  std::fflush(stdout);
  auto acceptor = gh::spawn(accept_forever, listener);
  acceptor.join();
  ::close(listener);
  std::printf("served %ld connections\n", served_connections);
  return acceptor.killed() ? 0 : 1;
}
