#include "ares_transport.hpp"

#include <ares.h>
#include <ev.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "greenhub/runtime.hpp"
#include "greenhub/wait.hpp"

namespace greenhub::detail {

namespace {

// Idle channels kept per hub before the oldest idle one is closed.
constexpr size_t kMaxIdleChannels = 8;
// Queries in flight per channel (per socket): a burst of answers to one
// socket beyond its receive buffer would be dropped, so a busy server gets
// more channels, as glibc's threads each have their own socket.
constexpr size_t kMaxQueriesPerChannel = 64;

// c-ares's sockets go straight to the kernel (see the header).
ares_socket_t raw_socket(int domain, int type, int protocol, void*) {
  return static_cast<ares_socket_t>(
      syscall(SYS_socket, domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
}

int raw_close(ares_socket_t fd, void*) { return static_cast<int>(syscall(SYS_close, fd)); }

int raw_connect(ares_socket_t fd, const sockaddr* address, ares_socklen_t length, void*) {
  return static_cast<int>(syscall(SYS_connect, fd, address, length));
}

ares_ssize_t raw_recvfrom(ares_socket_t fd, void* buffer, size_t length, int flags, sockaddr* from,
                          ares_socklen_t* from_length, void*) {
  return static_cast<ares_ssize_t>(
      syscall(SYS_recvfrom, fd, buffer, length, flags, from, from_length));
}

ares_ssize_t raw_sendv(ares_socket_t fd, const iovec* iov, int iov_count, void*) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov);
  message.msg_iovlen = static_cast<size_t>(iov_count);
  return static_cast<ares_ssize_t>(syscall(SYS_sendmsg, fd, &message, MSG_NOSIGNAL));
}

const ares_socket_functions kRawSocketFunctions = {raw_socket, raw_close, raw_connect, raw_recvfrom,
                                                   raw_sendv};

void init_ares_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
      std::fprintf(stderr, "greenhub: ares_library_init: %s\n", ares_strerror(rc));
      std::abort();
    }
  });
}

bool same_address(const DnsServer& a, const DnsServer& b) {
  return a.length == b.length && std::memcmp(&a.address, &b.address, a.length) == 0;
}

// One exchange: shared by the waiting greenlet and the queries in flight.
struct Exchange {
  struct Slot {
    Exchange* exchange;
    AresChannel* channel;
    size_t index;
    uint16_t query_id;  // restored in the answer (c-ares may renumber)
    bool done;          // its reply was recorded
  };

  int refs = 0;
  size_t remaining = 0;
  int arrivals = 0;
  bool refused = false;  // a port-unreachable ends the whole exchange
  bool waiting = false;
  WaitToken token;
  std::vector<Slot> slots;
  std::vector<DnsReply> replies;

  void release() {
    if (--refs == 0) delete this;
  }
};

}  // namespace

// One c-ares channel: one server, one timeout, one set of flags.
class AresChannel {
 public:
  AresChannel(Hub& hub, const DnsServer& server, const TransportOptions& options)
      : loop_(hub.loop()), server_(server), options_(options) {
    init_ares_library();
    ares_options opts{};
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_NDOTS |
               ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
    opts.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    if (options.use_tcp) opts.flags |= ARES_FLAG_USEVC;
    if (options.ignore_tc) opts.flags |= ARES_FLAG_IGNTC;
    if (options.udp_payload > 0) {
      // Accept UDP answers up to the advertised size, as glibc does.
      opts.flags |= ARES_FLAG_EDNS;
      opts.ednspsz = options.udp_payload;
      mask |= ARES_OPT_EDNSPSZ;
    }
    opts.timeout = options.timeout_ms;
    opts.tries = 1;
    opts.ndots = 1;
    opts.domains = nullptr;
    opts.ndomains = 0;
    opts.lookups = const_cast<char*>("b");
    opts.sock_state_cb = &AresChannel::on_sock_state;
    opts.sock_state_cb_data = this;
    int rc = ares_init_options(&channel_, &opts, mask);
    if (rc != ARES_SUCCESS) {
      std::fprintf(stderr, "greenhub: ares_init_options: %s\n", ares_strerror(rc));
      std::abort();
    }
    ares_set_socket_functions(channel_, &kRawSocketFunctions, nullptr);

    ares_addr_port_node node{};
    node.next = nullptr;
    node.family = server.address.ss_family;
    if (node.family == AF_INET) {
      const auto& sin = reinterpret_cast<const sockaddr_in&>(server.address);
      node.addr.addr4 = sin.sin_addr;
      node.udp_port = ntohs(sin.sin_port);
    } else {
      const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(server.address);
      std::memcpy(&node.addr.addr6, &sin6.sin6_addr, sizeof(sin6.sin6_addr));
      node.udp_port = ntohs(sin6.sin6_port);
    }
    node.tcp_port = node.udp_port;
    rc = ares_set_servers_ports(channel_, &node);
    if (rc != ARES_SUCCESS) {
      std::fprintf(stderr, "greenhub: ares_set_servers_ports: %s\n", ares_strerror(rc));
      std::abort();
    }
    ev_timer_init(&timer_, &AresChannel::on_timer, 0., 0.);
    timer_.data = this;
  }

  ~AresChannel() {
    // Ends the queries in flight with ARES_EDESTRUCTION and closes the
    // sockets (on_sock_state stops their watchers).
    ares_destroy(channel_);
    for (auto& w : watchers_) stop_io(w.get());
    watchers_.clear();
    stop_timer();
  }

  AresChannel(const AresChannel&) = delete;
  AresChannel& operator=(const AresChannel&) = delete;

  bool matches(const DnsServer& server, const TransportOptions& o) const {
    return same_address(server, server_) && o.timeout_ms == options_.timeout_ms &&
           o.use_tcp == options_.use_tcp && o.ignore_tc == options_.ignore_tc &&
           o.udp_payload == options_.udp_payload;
  }
  bool idle() const { return in_flight_ == 0; }
  bool has_room_for(size_t queries) const { return in_flight_ + queries <= kMaxQueriesPerChannel; }

  void send(Exchange::Slot* slot, const DnsQuery& query) {
    ++in_flight_;
    ares_send(channel_, query.data, query.length, &AresChannel::on_reply, slot);
  }

  // Re-arms the timer to c-ares's next deadline (or stops it).
  void update_timer() {
    timeval buffer{};
    timeval* next = ares_timeout(channel_, nullptr, &buffer);
    stop_timer();
    if (next == nullptr) return;
    double delay = static_cast<double>(next->tv_sec) + static_cast<double>(next->tv_usec) / 1e6;
    ev_now_update(loop_);
    ev_timer_set(&timer_, delay > 0 ? delay : 0., 0.);
    ev_timer_start(loop_, &timer_);
    ev_unref(loop_);
  }

 private:
  struct IoWatcher {
    ev_io io;
    AresChannel* channel;
    int fd;
  };

  static void on_reply(void* arg, int status, int, unsigned char* abuf, int alen) {
    auto* slot = static_cast<Exchange::Slot*>(arg);
    Exchange* exchange = slot->exchange;
    --slot->channel->in_flight_;
    if (status != ARES_EDESTRUCTION) {
      slot->done = true;
      DnsReply& reply = exchange->replies[slot->index];
      switch (status) {
        case ARES_SUCCESS:
          reply.kind = DnsReply::Kind::kAnswer;
          reply.bytes.assign(abuf, abuf + alen);
          if (alen >= 2) {
            reply.bytes[0] = static_cast<unsigned char>(slot->query_id >> 8);
            reply.bytes[1] = static_cast<unsigned char>(slot->query_id & 0xff);
          }
          break;
        case ARES_ETIMEOUT:
          reply.kind = DnsReply::Kind::kTimeout;
          break;
        case ARES_ECONNREFUSED:
          reply.kind = DnsReply::Kind::kRefused;
          break;
        default:
          reply.kind = DnsReply::Kind::kError;
          break;
      }
      reply.arrival = exchange->arrivals++;
      exchange->refused |= reply.kind == DnsReply::Kind::kRefused;
      --exchange->remaining;
      if ((exchange->remaining == 0 || exchange->refused) && exchange->waiting) {
        Hub::wake(exchange->token);
      }
    }
    exchange->release();
  }

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<AresChannel*>(data);
    self->watch(fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
  }

  void watch(int fd, int events) {
    auto it = watchers_.begin();
    while (it != watchers_.end() && (*it)->fd != fd) ++it;
    if (events == 0) {
      if (it != watchers_.end()) {
        stop_io(it->get());
        watchers_.erase(it);
      }
      return;
    }
    IoWatcher* w;
    if (it == watchers_.end()) {
      watchers_.push_back(std::make_unique<IoWatcher>());
      w = watchers_.back().get();
      w->channel = this;
      w->fd = fd;
      ev_io_init(&w->io, &AresChannel::on_io, fd, events);
    } else {
      w = it->get();
      stop_io(w);
      ev_io_set(&w->io, fd, events);
    }
    ev_io_start(loop_, &w->io);
    ev_unref(loop_);
  }

  void stop_io(IoWatcher* w) {
    if (!ev_is_active(&w->io)) return;
    ev_ref(loop_);
    ev_io_stop(loop_, &w->io);
  }

  void stop_timer() {
    if (!ev_is_active(&timer_)) return;
    ev_ref(loop_);
    ev_timer_stop(loop_, &timer_);
  }

  static void on_io(struct ev_loop*, ev_io* io, int revents) {
    auto* w = reinterpret_cast<IoWatcher*>(io);
    AresChannel* self = w->channel;
    const int fd = w->fd;  // the watcher may be freed inside ares_process_fd
    ares_process_fd(self->channel_, (revents & EV_READ) != 0 ? fd : ARES_SOCKET_BAD,
                    (revents & EV_WRITE) != 0 ? fd : ARES_SOCKET_BAD);
    self->update_timer();
  }

  static void on_timer(struct ev_loop*, ev_timer* timer, int) {
    auto* self = static_cast<AresChannel*>(timer->data);
    ev_ref(self->loop_);  // the timer stopped itself (non-repeating)
    self->read_arrived_answers();
    ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    self->update_timer();
  }

  // libev runs the timers of a loop iteration before its I/O callbacks: an
  // answer that arrived in the same iteration as its query's deadline is
  // read first, as glibc's poll would have returned it.
  void read_arrived_answers() {
    std::vector<int> readable;
    for (auto& w : watchers_) {
      if ((w->io.events & EV_READ) == 0) continue;
      pollfd p{w->fd, POLLIN, 0};
      if (syscall(SYS_poll, &p, 1, 0) > 0 && (p.revents & (POLLIN | POLLERR)) != 0) {
        readable.push_back(w->fd);
      }
    }
    for (int fd : readable) ares_process_fd(channel_, fd, ARES_SOCKET_BAD);
  }

  friend class AresTransport;
  struct ev_loop* loop_;
  DnsServer server_;
  TransportOptions options_;
  ares_channel channel_ = nullptr;
  ev_timer timer_;
  std::vector<std::unique_ptr<IoWatcher>> watchers_;
  size_t in_flight_ = 0;
};

namespace {

struct TransportHolder {
  std::unique_ptr<AresTransport> transport;
};

}  // namespace

AresTransport& AresTransport::current() {
  // The hub first: its thread-exit owner is then destroyed after this
  // thread's transport, whose channels still use the hub's loop.
  Hub& hub = Hub::current();
  thread_local TransportHolder holder;
  if (holder.transport == nullptr) holder.transport.reset(new AresTransport(hub));
  return *holder.transport;
}

AresTransport::AresTransport(Hub& hub) : hub_(hub) {}

AresTransport::~AresTransport() { channels_.clear(); }

AresChannel& AresTransport::channel_for(const DnsServer& server, const TransportOptions& options,
                                        size_t queries) {
  for (auto& channel : channels_) {
    if (channel->matches(server, options) && channel->has_room_for(queries)) return *channel;
  }
  // Close idle channels beyond the limit, oldest first.
  size_t idle = 0;
  for (auto& channel : channels_) idle += channel->idle() ? 1 : 0;
  for (auto it = channels_.begin(); idle >= kMaxIdleChannels && it != channels_.end();) {
    if ((*it)->idle()) {
      it = channels_.erase(it);
      --idle;
    } else {
      ++it;
    }
  }
  channels_.push_back(std::make_unique<AresChannel>(hub_, server, options));
  return *channels_.back();
}

void AresTransport::exchange(const DnsServer& server, const TransportOptions& options,
                             const DnsQuery* queries, DnsReply* replies, size_t count) {
  throw_if_pending();
  AresChannel& channel = channel_for(server, options, count);
  auto* exchange = new Exchange();
  exchange->refs = 1 + static_cast<int>(count);
  exchange->remaining = count;
  exchange->replies.resize(count);
  exchange->slots.resize(count);
  hub_.add_external_wait();
  struct Leave {
    Hub& hub;
    Exchange* exchange;
    ~Leave() {
      exchange->waiting = false;
      hub.remove_external_wait();
      exchange->release();
    }
  } leave{hub_, exchange};

  for (size_t i = 0; i < count; ++i) {
    const DnsQuery& q = queries[i];
    uint16_t id = q.length >= 2 ? static_cast<uint16_t>(q.data[0] << 8 | q.data[1]) : 0;
    exchange->slots[i] = Exchange::Slot{exchange, &channel, i, id, false};
  }
  for (size_t i = 0; i < count; ++i) {
    channel.send(&exchange->slots[i], queries[i]);
  }
  channel.update_timer();

  GreenletBase* self = hub_.current_greenlet();
  const char* previous = self->waiting_on();
  self->set_waiting_on("dns");
  struct Restore {
    GreenletBase* g;
    const char* previous;
    ~Restore() { g->set_waiting_on(previous); }
  } restore{self, previous};

  while (exchange->remaining > 0 && !exchange->refused) {
    exchange->token = hub_.prepare_park();
    exchange->waiting = true;
    block(exchange->token);
    exchange->waiting = false;
  }
  for (size_t i = 0; i < count; ++i) replies[i] = std::move(exchange->replies[i]);
  if (exchange->remaining > 0) {
    // The server's port is closed: glibc gives up on all its queries at
    // once (the socket error is reported to one of them only). The queries
    // still in flight are abandoned.
    for (size_t i = 0; i < count; ++i) {
      if (exchange->slots[i].done) continue;
      replies[i].kind = DnsReply::Kind::kRefused;
      replies[i].arrival = exchange->arrivals++;
    }
  }
}

}  // namespace greenhub::detail
