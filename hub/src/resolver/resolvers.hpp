// The three resolvers behind greenhub::Resolver (see resolver.hpp), and
// what they share: the statistics, and the check for a thread whose
// resolver state the program modified.
#pragma once

#include <atomic>
#include <cstdint>

#include "greenhub/resolver.hpp"

namespace greenhub::detail {

struct ResolverCounters {
  std::atomic<uint64_t> ares{0};
  std::atomic<uint64_t> thread{0};
  std::atomic<uint64_t> block{0};
  std::atomic<uint64_t> ares_fallbacks{0};
};
ResolverCounters& resolver_counters();

// True when the calling thread's _res was initialized and then changed by
// the program (it no longer matches /etc/resolv.conf): glibc would use the
// change, so only glibc on this thread gives the program's answer.
bool caller_resolver_state_modified();

// The same for an explicit state passed to a res_n* function.
bool uninitialized_state(res_state statp);

#define GREENHUB_RESOLVER_COMMON_OVERRIDES                                                         \
  int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res)    \
      override;                                                                                    \
  int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,  \
                  socklen_t servlen, int flags) override;                                          \
  int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen, hostent** result,  \
                      int* h_errnop) override;                                                     \
  int gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,           \
                       hostent** result, int* h_errnop) override;                                  \
  int gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret, char* buf,          \
                      size_t buflen, hostent** result, int* h_errnop) override;                    \
  int res_query(const char* dname, int klass, int type, unsigned char* answer, int anslen)         \
      override;                                                                                    \
  int res_search(const char* dname, int klass, int type, unsigned char* answer, int anslen)        \
      override;                                                                                    \
  int res_querydomain(const char* name, const char* domain, int klass, int type,                   \
                      unsigned char* answer, int anslen) override;                                 \
  int res_send(const unsigned char* msg, int msglen, unsigned char* answer, int anslen) override;  \
  int res_nquery(res_state statp, const char* dname, int klass, int type, unsigned char* answer,   \
                 int anslen) override;                                                             \
  int res_nsearch(res_state statp, const char* dname, int klass, int type, unsigned char* answer,  \
                  int anslen) override;                                                            \
  int res_nquerydomain(res_state statp, const char* name, const char* domain, int klass, int type, \
                       unsigned char* answer, int anslen) override;                                \
  int res_nsend(res_state statp, const unsigned char* msg, int msglen, unsigned char* answer,      \
                int anslen) override;

// glibc on the calling thread.
class BlockingResolver final : public Resolver {
 public:
  ResolverKind kind() const override { return ResolverKind::kBlock; }
  const char* name() const override { return "block"; }
  GREENHUB_RESOLVER_COMMON_OVERRIDES
  hostent* gethostbyname(const char* name) override;
  hostent* gethostbyname2(const char* name, int af) override;
  hostent* gethostbyaddr(const void* addr, socklen_t len, int type) override;
};

// glibc on ThreadPool::default_pool().
class ThreadResolver final : public Resolver {
 public:
  ResolverKind kind() const override { return ResolverKind::kThread; }
  const char* name() const override { return "thread"; }
  GREENHUB_RESOLVER_COMMON_OVERRIDES
};

// glibc's logic on c-ares and the hub.
class AresResolver final : public Resolver {
 public:
  ResolverKind kind() const override { return ResolverKind::kAres; }
  const char* name() const override { return "ares"; }
  GREENHUB_RESOLVER_COMMON_OVERRIDES
};

#undef GREENHUB_RESOLVER_COMMON_OVERRIDES

}  // namespace greenhub::detail
