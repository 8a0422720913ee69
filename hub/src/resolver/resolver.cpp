// Choosing a resolver (GREENHUB_RESOLVER), the free functions, the
// per-thread storage of the non-reentrant lookups, and the statistics.
#include "greenhub/resolver.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dns_config.hpp"
#include "greenhub/threadpool.hpp"
#include "libc_resolver.hpp"
#include "resolvers.hpp"

namespace greenhub {

namespace detail {

ResolverCounters& resolver_counters() {
  static ResolverCounters counters;
  return counters;
}

bool caller_resolver_state_modified() {
  const struct __res_state& state = *__res_state();
  if ((state.options & RES_INIT) == 0) return false;
  const int saved = errno;  // reloading the configuration may set it
  const bool modified = !DnsConfig::current()->matches_state(state);
  errno = saved;
  return modified;
}

bool uninitialized_state(res_state statp) { return (statp->options & RES_INIT) == 0; }

namespace {

ResolverKind parse_kind() {
  const char* env = std::getenv("GREENHUB_RESOLVER");
  if (env == nullptr || *env == '\0' || std::strcmp(env, "ares") == 0) return ResolverKind::kAres;
  if (std::strcmp(env, "thread") == 0) return ResolverKind::kThread;
  if (std::strcmp(env, "block") == 0) return ResolverKind::kBlock;
  std::fprintf(stderr,
               "greenhub: GREENHUB_RESOLVER=%s is not one of ares, thread, block; using ares\n",
               env);
  return ResolverKind::kAres;
}

// Per OS thread: the storage gethostbyname & co. return.
struct StaticHost {
  hostent entry{};
  std::vector<char> buffer = std::vector<char>(1024);
};
thread_local StaticHost tls_static_host;

// glibc's getXXbyYY.c around a reentrant lookup: grow the buffer on
// ERANGE, set h_errno only when the lookup reported an error.
template <class Call>
hostent* static_lookup(Call&& call) {
  StaticHost& s = tls_static_host;
  hostent* result = nullptr;
  int herrno = 0;
  while (call(&s.entry, s.buffer.data(), s.buffer.size(), &result, &herrno) == ERANGE &&
         herrno == NETDB_INTERNAL) {
    s.buffer.resize(s.buffer.size() * 2);
  }
  if (herrno != 0) h_errno = herrno;
  return result;
}

// glibc's getXXbyYY.c answers a numeric name (and a name that only looks
// numeric) itself, before any lookup, in a malloc'ed buffer of its own:
// unlike the reentrant path it leaves errno alone. Returns whether the name
// was handled so (*out is then the answer, h_errno set on failure).
bool static_numeric_lookup(const char* name, int af, hostent** out) {
  const LibcResolver& libc = libc_resolver();
  if (libc.hostname_digits_dots == nullptr) return false;
  thread_local hostent entry{};
  thread_local char* buffer = nullptr;
  thread_local size_t buffer_size = 0;
  hostent* result = nullptr;
  int herrno = 0;
  if (libc.hostname_digits_dots(name, &entry, &buffer, &buffer_size, 0, &result, nullptr, af,
                                &herrno) == 0) {
    return false;
  }
  if (herrno != 0) h_errno = herrno;
  *out = result;
  return true;
}

}  // namespace
}  // namespace detail

hostent* Resolver::gethostbyname(const char* name) {
  hostent* numeric = nullptr;
  if (detail::static_numeric_lookup(name, AF_INET, &numeric)) return numeric;
  return detail::static_lookup([&](hostent* ret, char* buf, size_t len, hostent** result, int* h) {
    return gethostbyname_r(name, ret, buf, len, result, h);
  });
}

hostent* Resolver::gethostbyname2(const char* name, int af) {
  hostent* numeric = nullptr;
  if (detail::static_numeric_lookup(name, af, &numeric)) return numeric;
  return detail::static_lookup([&](hostent* ret, char* buf, size_t len, hostent** result, int* h) {
    return gethostbyname2_r(name, af, ret, buf, len, result, h);
  });
}

hostent* Resolver::gethostbyaddr(const void* addr, socklen_t len, int type) {
  return detail::static_lookup(
      [&](hostent* ret, char* buf, size_t buflen, hostent** result, int* h) {
        return gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h);
      });
}

Resolver& Resolver::ares() {
  static detail::AresResolver* resolver = new detail::AresResolver();
  return *resolver;
}

Resolver& Resolver::thread() {
  static detail::ThreadResolver* resolver = new detail::ThreadResolver();
  return *resolver;
}

Resolver& Resolver::blocking() {
  static detail::BlockingResolver* resolver = new detail::BlockingResolver();
  return *resolver;
}

ResolverKind default_resolver_kind() {
  static const ResolverKind kind = detail::parse_kind();
  return kind;
}

Resolver& Resolver::get() {
  switch (default_resolver_kind()) {
    case ResolverKind::kThread:
      return thread();
    case ResolverKind::kBlock:
      return blocking();
    case ResolverKind::kAres:
      break;
  }
  return ares();
}

size_t thread_resolver_concurrency() { return ThreadPool::default_pool().max_size(); }

ResolverStats resolver_stats() {
  detail::ResolverCounters& c = detail::resolver_counters();
  ResolverStats s;
  s.ares = c.ares.load(std::memory_order_relaxed);
  s.thread = c.thread.load(std::memory_order_relaxed);
  s.block = c.block.load(std::memory_order_relaxed);
  s.ares_fallbacks = c.ares_fallbacks.load(std::memory_order_relaxed);
  return s;
}

int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res) {
  return Resolver::get().getaddrinfo(node, service, hints, res);
}

void freeaddrinfo(addrinfo* res) { detail::libc_resolver().freeaddrinfo(res); }

const char* gai_strerror(int errcode) { return detail::libc_resolver().gai_strerror(errcode); }

int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
                socklen_t servlen, int flags) {
  return Resolver::get().getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

hostent* gethostbyname(const char* name) { return Resolver::get().gethostbyname(name); }

hostent* gethostbyname2(const char* name, int af) {
  return Resolver::get().gethostbyname2(name, af);
}

hostent* gethostbyaddr(const void* addr, socklen_t len, int type) {
  return Resolver::get().gethostbyaddr(addr, len, type);
}

int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen, hostent** result,
                    int* h_errnop) {
  return Resolver::get().gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

int gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,
                     hostent** result, int* h_errnop) {
  return Resolver::get().gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

int gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret, char* buf,
                    size_t buflen, hostent** result, int* h_errnop) {
  return Resolver::get().gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h_errnop);
}

int res_query(const char* dname, int klass, int type, unsigned char* answer, int anslen) {
  return Resolver::get().res_query(dname, klass, type, answer, anslen);
}

int res_search(const char* dname, int klass, int type, unsigned char* answer, int anslen) {
  return Resolver::get().res_search(dname, klass, type, answer, anslen);
}

int res_querydomain(const char* name, const char* domain, int klass, int type,
                    unsigned char* answer, int anslen) {
  return Resolver::get().res_querydomain(name, domain, klass, type, answer, anslen);
}

int res_send(const unsigned char* msg, int msglen, unsigned char* answer, int anslen) {
  return Resolver::get().res_send(msg, msglen, answer, anslen);
}

int res_nquery(res_state statp, const char* dname, int klass, int type, unsigned char* answer,
               int anslen) {
  return Resolver::get().res_nquery(statp, dname, klass, type, answer, anslen);
}

int res_nsearch(res_state statp, const char* dname, int klass, int type, unsigned char* answer,
                int anslen) {
  return Resolver::get().res_nsearch(statp, dname, klass, type, answer, anslen);
}

int res_nquerydomain(res_state statp, const char* name, const char* domain, int klass, int type,
                     unsigned char* answer, int anslen) {
  return Resolver::get().res_nquerydomain(statp, name, domain, klass, type, answer, anslen);
}

int res_nsend(res_state statp, const unsigned char* msg, int msglen, unsigned char* answer,
              int anslen) {
  return Resolver::get().res_nsend(statp, msg, msglen, answer, anslen);
}

}  // namespace greenhub
