// The asynchronous resolver: per call, check that glibc's configuration is
// one it reproduces, then answer with AresLookups / DnsClient on the
// calling greenlet's hub; otherwise hand the call to the thread resolver
// (or, for a thread whose _res the program changed, to glibc on the
// thread).
#include <arpa/nameser.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "ares_getaddrinfo.hpp"
#include "dns_client.hpp"
#include "dns_config.hpp"
#include "host_sources.hpp"
#include "hosts_config.hpp"
#include "libc_resolver.hpp"
#include "resolvers.hpp"

namespace greenhub {

namespace detail {

namespace {

const char* configuration_reason(const HostsConfig& hosts, const DnsConfig& dns) {
  if (!libc_resolver().has_files_backend()) {
    return "glibc's hosts-file backend (_nss_files_*) was not found";
  }
  if (hosts.reason() != nullptr) return hosts.reason();
  const char* why = nullptr;
  if (dns.needs_glibc(&why)) return why;
  if (std::getenv("HOSTALIASES") != nullptr && (dns.options() & RES_NOALIASES) == 0) {
    return "HOSTALIASES is set";
  }
  return nullptr;
}

// What one lookup of the asynchronous resolver works with.
struct AresContext {
  AresContext(std::shared_ptr<const HostsConfig> h, std::shared_ptr<const DnsConfig> d)
      : hosts(std::move(h)), dns(std::move(d)), sources(dns), lookups(*hosts, sources) {}
  std::shared_ptr<const HostsConfig> hosts;
  std::shared_ptr<const DnsConfig> dns;
  HostSources sources;
  AresLookups lookups;
};

enum class Route { kAres, kThread, kBlock };

Route fallback() {
  resolver_counters().ares_fallbacks.fetch_add(1, std::memory_order_relaxed);
  return Route::kThread;
}

// Keeps errno as the caller left it across our own bookkeeping (stat,
// access...): only what glibc's function does to errno may show.
struct KeepErrno {
  int saved = errno;
  ~KeepErrno() { errno = saved; }
};

// The route of a lookup that uses the calling thread's configuration.
Route route(std::optional<AresContext>* context) {
  KeepErrno keep;
  if (caller_resolver_state_modified()) return Route::kBlock;
  auto hosts = HostsConfig::current();
  auto dns = DnsConfig::current();
  if (configuration_reason(*hosts, *dns) != nullptr) return fallback();
  context->emplace(std::move(hosts), std::move(dns));
  resolver_counters().ares.fetch_add(1, std::memory_order_relaxed);
  return Route::kAres;
}

// The route of a res_n* lookup with an explicit state.
Route route_state(res_state statp, std::shared_ptr<const DnsConfig>* config) {
  KeepErrno keep;
  if (uninitialized_state(statp)) return Route::kBlock;
  *config = DnsConfig::from_state(*statp);
  const char* why = nullptr;
  if ((*config)->needs_glibc(&why) ||
      (std::getenv("HOSTALIASES") != nullptr && ((*config)->options() & RES_NOALIASES) == 0)) {
    return fallback();
  }
  resolver_counters().ares.fetch_add(1, std::memory_order_relaxed);
  return Route::kAres;
}

// glibc initializes the thread's _res on its first lookup.
void init_caller_state() {
  if ((__res_state()->options & RES_INIT) == 0) res_init();
}

// Hands a DnsResult to the caller as glibc's res_* functions do (the
// client has set h_errno already).
int deliver(const DnsResult& r, unsigned char* answer, int anslen) {
  if (r.error >= 0) errno = r.error;
  if (r.length < 0) return r.length;
  const int n = r.length;
  if (answer == nullptr || anslen <= 0) return n;
  if (n <= anslen) {
    std::memcpy(answer, r.answer.data(), static_cast<size_t>(n));
    return n;
  }
  std::memcpy(answer, r.answer.data(), static_cast<size_t>(anslen));
  if (n <= PACKETSZ) return anslen;  // a UDP datagram read into a small buffer
  // Over TCP glibc reads what fits, sets TC and returns the full length.
  if (anslen >= HFIXEDSZ) reinterpret_cast<HEADER*>(answer)->tc = 1;
  return n;
}

}  // namespace

int AresResolver::getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                              addrinfo** res) {
  if (hints != nullptr && (hints->ai_flags & (AI_IDN | AI_CANONIDN)) != 0) {
    fallback();
    return Resolver::thread().getaddrinfo(node, service, hints, res);
  }
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().getaddrinfo(node, service, hints, res);
    case Route::kThread:
      return Resolver::thread().getaddrinfo(node, service, hints, res);
    case Route::kAres:
      break;
  }
  return context->lookups.getaddrinfo(node, service, hints, res);
}

int AresResolver::getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                              char* serv, socklen_t servlen, int flags) {
  if ((flags & NI_IDN) != 0) {
    fallback();
    return Resolver::thread().getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  }
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    case Route::kThread:
      return Resolver::thread().getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    case Route::kAres:
      break;
  }
  return context->lookups.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

int AresResolver::gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                                  hostent** result, int* h_errnop) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    case Route::kThread:
      return Resolver::thread().gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    case Route::kAres:
      break;
  }
  return context->lookups.database().gethostbyname2_r(name, AF_INET, ret, buf, buflen, result,
                                                      h_errnop);
}

int AresResolver::gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,
                                   hostent** result, int* h_errnop) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
    case Route::kThread:
      return Resolver::thread().gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
    case Route::kAres:
      break;
  }
  return context->lookups.database().gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

int AresResolver::gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret,
                                  char* buf, size_t buflen, hostent** result, int* h_errnop) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
                                                  h_errnop);
    case Route::kThread:
      return Resolver::thread().gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
                                                h_errnop);
    case Route::kAres:
      break;
  }
  return context->lookups.database().gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
                                                     h_errnop);
}

int AresResolver::res_query(const char* dname, int klass, int type, unsigned char* answer,
                            int anslen) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().res_query(dname, klass, type, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_query(dname, klass, type, answer, anslen);
    case Route::kAres:
      break;
  }
  init_caller_state();
  DnsClient client(context->dns, __res_state());
  return deliver(client.query(dname, klass, type, anslen), answer, anslen);
}

int AresResolver::res_search(const char* dname, int klass, int type, unsigned char* answer,
                             int anslen) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().res_search(dname, klass, type, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_search(dname, klass, type, answer, anslen);
    case Route::kAres:
      break;
  }
  init_caller_state();
  DnsClient client(context->dns, __res_state());
  return deliver(client.search(dname, klass, type, anslen), answer, anslen);
}

int AresResolver::res_querydomain(const char* name, const char* domain, int klass, int type,
                                  unsigned char* answer, int anslen) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().res_querydomain(name, domain, klass, type, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_querydomain(name, domain, klass, type, answer, anslen);
    case Route::kAres:
      break;
  }
  init_caller_state();
  DnsClient client(context->dns, __res_state());
  return deliver(client.querydomain(name, domain, klass, type, anslen), answer, anslen);
}

int AresResolver::res_send(const unsigned char* msg, int msglen, unsigned char* answer,
                           int anslen) {
  std::optional<AresContext> context;
  switch (route(&context)) {
    case Route::kBlock:
      return Resolver::blocking().res_send(msg, msglen, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_send(msg, msglen, answer, anslen);
    case Route::kAres:
      break;
  }
  init_caller_state();
  DnsClient client(context->dns, __res_state());
  return deliver(client.send(msg, msglen, anslen), answer, anslen);
}

int AresResolver::res_nquery(res_state statp, const char* dname, int klass, int type,
                             unsigned char* answer, int anslen) {
  std::shared_ptr<const DnsConfig> config;
  switch (route_state(statp, &config)) {
    case Route::kBlock:
      return Resolver::blocking().res_nquery(statp, dname, klass, type, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_nquery(statp, dname, klass, type, answer, anslen);
    case Route::kAres:
      break;
  }
  DnsClient client(config, statp);
  return deliver(client.query(dname, klass, type, anslen), answer, anslen);
}

int AresResolver::res_nsearch(res_state statp, const char* dname, int klass, int type,
                              unsigned char* answer, int anslen) {
  std::shared_ptr<const DnsConfig> config;
  switch (route_state(statp, &config)) {
    case Route::kBlock:
      return Resolver::blocking().res_nsearch(statp, dname, klass, type, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_nsearch(statp, dname, klass, type, answer, anslen);
    case Route::kAres:
      break;
  }
  DnsClient client(config, statp);
  return deliver(client.search(dname, klass, type, anslen), answer, anslen);
}

int AresResolver::res_nquerydomain(res_state statp, const char* name, const char* domain, int klass,
                                   int type, unsigned char* answer, int anslen) {
  std::shared_ptr<const DnsConfig> config;
  switch (route_state(statp, &config)) {
    case Route::kBlock:
      return Resolver::blocking().res_nquerydomain(statp, name, domain, klass, type, answer,
                                                   anslen);
    case Route::kThread:
      return Resolver::thread().res_nquerydomain(statp, name, domain, klass, type, answer, anslen);
    case Route::kAres:
      break;
  }
  DnsClient client(config, statp);
  return deliver(client.querydomain(name, domain, klass, type, anslen), answer, anslen);
}

int AresResolver::res_nsend(res_state statp, const unsigned char* msg, int msglen,
                            unsigned char* answer, int anslen) {
  std::shared_ptr<const DnsConfig> config;
  switch (route_state(statp, &config)) {
    case Route::kBlock:
      return Resolver::blocking().res_nsend(statp, msg, msglen, answer, anslen);
    case Route::kThread:
      return Resolver::thread().res_nsend(statp, msg, msglen, answer, anslen);
    case Route::kAres:
      break;
  }
  DnsClient client(config, statp);
  return deliver(client.send(msg, msglen, anslen), answer, anslen);
}

}  // namespace detail

const char* ares_fallback_reason() {
  if (detail::caller_resolver_state_modified()) {
    return "this thread's _res was modified by the program (glibc answers on the thread)";
  }
  return detail::configuration_reason(*detail::HostsConfig::current(),
                                      *detail::DnsConfig::current());
}

}  // namespace greenhub
