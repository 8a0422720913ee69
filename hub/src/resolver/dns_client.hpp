// DnsClient: glibc's stub resolver (res_send, res_query, res_search,
// res_querydomain) on the asynchronous transport.
//
// How it works
//   The logic is glibc 2.36's, step for step, so that the same servers
//   behaving the same way give the same answer, h_errno and errno:
//   - send: every attempt ("options attempts:") asks every nameserver in
//     order (rotated per call with "options rotate"); the wait for server
//     number ns is timeout << ns, divided by the server count when ns > 0.
//     An answer with SERVFAIL, NOTIMP or REFUSED, or a referral, moves on to
//     the next server; a truncated UDP answer is asked again over TCP (the
//     transport does it), and over TCP each server gets one attempt. When
//     every server failed, errno is ECONNREFUSED if none ever answered
//     anything, else ETIMEDOUT. The AD bit is cleared unless "trust-ad".
//   - A and AAAA for getaddrinfo (kQueryAAndAAAA) go out together to the
//     same server; the first answer to arrive is answer 1, as in glibc's
//     send_dg, and a rejected answer counts as "no data" for its query when
//     the other query has a usable one.
//   - query turns the answers' rcodes into h_errno (HOST_NOT_FOUND,
//     TRY_AGAIN, NO_DATA, NO_RECOVERY) as __res_context_query does.
//   - search walks the search list with ndots, trailing dots,
//     RES_DEFNAMES/RES_DNSRCH/RES_NOTLDQUERY, and the saved h_errno rules of
//     __res_context_search.
//   "options no-aaaa" turns AAAA queries into A queries answered with no
//   data, as glibc does. HOSTALIASES is not followed here: lookups under it
//   go to glibc.
//
// Each exchange parks the calling greenlet; nothing here blocks the hub.
#pragma once

#include <memory>
#include <vector>

#include "ares_transport.hpp"
#include "dns_config.hpp"

namespace greenhub::detail {

// glibc's T_QUERY_A_AND_AAAA: an A and an AAAA query sent together.
constexpr int kQueryAAndAAAA = 439963904;

struct DnsResult {
  int length = -1;                     // the glibc function's return value
  int herrno = 0;                      // h_errno it leaves (0 if untouched)
  int error = -1;                      // errno it leaves (-1: left alone)
  std::vector<unsigned char> answer;   // answer 1 (length bytes)
  std::vector<unsigned char> answer2;  // answer 2 of an A+AAAA query
  int length2 = 0;
};

class DnsClient {
 public:
  // herrno_state: the resolver state whose res_h_errno glibc would set
  // along with h_errno (the calling thread's _res, or the caller's
  // explicit state); may be null.
  DnsClient(std::shared_ptr<const DnsConfig> config, struct __res_state* herrno_state)
      : config_(std::move(config)), herrno_state_(herrno_state) {}

  const DnsConfig& config() const { return *config_; }

  // res_send: the message as given, answer 1 only. `capacity` is the
  // caller's answer buffer size (for the EINVAL check).
  DnsResult send(const unsigned char* message, int length, int capacity);
  // res_query (__res_context_query).
  DnsResult query(const char* name, int klass, int type, int capacity);
  // res_search (__res_context_search).
  DnsResult search(const char* name, int klass, int type, int capacity);
  // res_querydomain (__res_context_querydomain); domain may be null.
  DnsResult querydomain(const char* name, const char* domain, int klass, int type, int capacity);

 private:
  struct SendState;
  DnsResult run_send(const unsigned char* message, int length, int capacity);
  DnsResult run_query(const char* name, int klass, int type, int capacity);
  DnsResult run_querydomain(const char* name, const char* domain, int klass, int type,
                            int capacity);
  DnsResult run_search(const char* name, int klass, int type, int capacity);
  // Sets h_errno (and res_h_errno) as the glibc function leaves them: once,
  // at the end, after the last wait, since greenlets of the same thread
  // share h_errno.
  DnsResult publish(DnsResult result);
  DnsResult send_queries(const DnsQuery* queries, size_t count);
  // "options no-aaaa": an AAAA query goes out as an A query whose answer
  // comes back as an empty AAAA answer (glibc's __res_handle_no_aaaa).
  // False if the query is not one glibc rewrites.
  bool send_without_aaaa(const DnsQuery& query, int capacity, DnsResult* out);

  std::shared_ptr<const DnsConfig> config_;
  struct __res_state* herrno_state_;
  int herrno_ = -1;          // glibc's statp->res_h_errno; -1: not set by the call
  int rcode_in_answer_ = 0;  // rcode of the last reply stored as answer 1
};

}  // namespace greenhub::detail
