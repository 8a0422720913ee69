// AresTransport: DNS messages to one nameserver and back, each exchange a
// hub wait; c-ares carries the bytes, the hub's libev loop drives c-ares.
//
// How it works
//   c-ares is used as a transport only: UDP with query-ID and question
//   matching, TCP when an answer comes back truncated (or always with
//   "options use-vc"), socket management. Which server to ask, how long to
//   wait and when to give up stay with the caller (DnsClient), which
//   follows glibc's res_send loop. So each c-ares channel talks to exactly
//   one server, with tries = 1 and one timeout, and passes every answer up
//   unjudged (ARES_FLAG_NOCHECKRESP). A transport keeps the channels of its
//   hub by (server, timeout, flags), with at most 64 queries in flight on
//   each (each has its own socket: one socket would drop a burst of
//   answers beyond its receive buffer, where glibc's threads each had
//   their own).
//
//   c-ares reports the sockets it wants watched through
//   ARES_OPT_SOCK_STATE_CB: each becomes an ev_io on the hub's loop, whose
//   callback runs ares_process_fd; one ev_timer per channel is re-armed
//   from ares_timeout() after every step, and processes timeouts. The
//   watchers do not keep the hub alive by themselves (ev_unref); an
//   exchange in flight does (Hub::add_external_wait).
//
//   exchange() sends its queries (one, or the A and AAAA pair), then parks
//   the calling greenlet (Hub::prepare_park / block) until every query has
//   a reply; the c-ares callbacks record each reply with its arrival order
//   and the last one wakes the greenlet. A closed port (ICMP unreachable)
//   ends the whole exchange at once, as it ends glibc's: the kernel reports
//   it to one query of the socket only. Thousands of exchanges from
//   thousands of greenlets are in flight at once on one OS thread.
//
//   c-ares creates, connects, reads and writes its sockets through
//   ares_set_socket_functions with raw system calls, so nothing it does
//   passes through an interposer (the preload) on its way to the kernel.
//
// Invariants
//   - A transport, its channels and their watchers belong to one hub and are
//     used only on its OS thread.
//   - A greenlet that stops waiting (killed, Timeout) abandons its exchange:
//     the shared state is reference-counted by the waiter and each query in
//     flight, so a late reply is recorded and dropped, never written to the
//     greenlet's stack.
//   - A channel is destroyed only when it has no query in flight, or when
//     its hub's thread exits (c-ares then ends its queries with
//     ARES_EDESTRUCTION, which wakes nobody).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dns_config.hpp"

namespace greenhub {
class Hub;
}

namespace greenhub::detail {

struct DnsQuery {
  const unsigned char* data = nullptr;
  int length = 0;
};

struct DnsReply {
  enum class Kind : uint8_t {
    kAnswer,   // bytes holds the answer, whatever its rcode
    kTimeout,  // no answer within the timeout
    kRefused,  // the server's port was closed (ICMP port unreachable)
    kError,    // any other failure (socket, malformed reply...)
  };
  Kind kind = Kind::kError;
  std::vector<unsigned char> bytes;
  int arrival = 0;  // 0 for the first reply of the exchange to arrive, 1 next
};

struct TransportOptions {
  int timeout_ms = 5000;
  bool use_tcp = false;    // "options use-vc"
  bool ignore_tc = false;  // RES_IGNTC: take a truncated UDP answer as is
  int udp_payload = 0;     // > 0: the EDNS0 UDP payload size advertised
};

class AresChannel;

class AresTransport {
 public:
  // The calling thread's transport, on its hub.
  static AresTransport& current();

  ~AresTransport();
  AresTransport(const AresTransport&) = delete;
  AresTransport& operator=(const AresTransport&) = delete;

  // Sends each query to `server` and waits on the hub until each has a
  // reply; replies[i] answers queries[i]. Throws what the greenlet's wait
  // throws (Timeout, GreenletExit), abandoning the exchange.
  void exchange(const DnsServer& server, const TransportOptions& options, const DnsQuery* queries,
                DnsReply* replies, size_t count);

  // Channels currently open (for tests).
  size_t channel_count() const { return channels_.size(); }

 private:
  explicit AresTransport(Hub& hub);
  AresChannel& channel_for(const DnsServer& server, const TransportOptions& options,
                           size_t queries);

  Hub& hub_;
  std::vector<std::unique_ptr<AresChannel>> channels_;
};

}  // namespace greenhub::detail
