// getnameinfo of the asynchronous resolver: glibc 2.36's inet/getnameinfo.c
// on HostsDatabase::gethostbyaddr_r (see ares_getaddrinfo.hpp).
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ares_getaddrinfo.hpp"

namespace greenhub::detail {

namespace {

// Former NI_IDN_ALLOW_UNASSIGNED, NI_IDN_USE_STD3_ASCII_RULES, ignored.
constexpr int kDeprecatedNiIdn = 192;

int checked_copy(char* dest, size_t destlen, const char* source) {
  size_t length = std::strlen(source);
  if (length + 1 > destlen) return EAI_OVERFLOW;
  std::memcpy(dest, source, length + 1);
  return 0;
}

int check_sprintf_result(int result, size_t destlen) {
  if (result < 0) return EAI_SYSTEM;
  if (static_cast<size_t>(result) >= destlen) return EAI_OVERFLOW;
  return 0;
}

// The local domain for NI_NOFQDN, found once per process as glibc's
// nrl_domainname finds it (then cached, whatever happens next).
struct DomainCache {
  std::mutex mutex;
  bool known = false;
  std::optional<std::string> domain;
};

DomainCache& domain_cache() {
  static DomainCache* cache = new DomainCache();
  return *cache;
}

std::optional<std::string> domain_after_dot(const char* name) {
  const char* dot = std::strchr(name, '.');
  if (dot == nullptr) return std::nullopt;
  return std::string(dot + 1);
}

std::optional<std::string> lookup_local_domain(HostsDatabase& db) {
  std::vector<char> buffer(1024);
  hostent th{};
  hostent* h = nullptr;
  int herror = 0;
  auto by_name = [&](const char* name) -> hostent* {
    while (db.gethostbyname2_r(name, AF_INET, &th, buffer.data(), buffer.size(), &h, &herror) !=
           0) {
      if (herror == NETDB_INTERNAL && errno == ERANGE) {
        buffer.resize(buffer.size() * 2);
      } else {
        break;
      }
    }
    return h;
  };
  if (hostent* l = by_name("localhost"); l != nullptr) {
    if (auto d = domain_after_dot(l->h_name)) return d;
  }
  char hostname[256];
  if (gethostname(hostname, sizeof hostname) != 0) return std::nullopt;
  hostname[sizeof hostname - 1] = '\0';
  if (auto d = domain_after_dot(hostname)) return d;
  std::string own(hostname);
  if (hostent* me = by_name(own.c_str()); me != nullptr) {
    if (auto d = domain_after_dot(me->h_name)) return d;
    return std::nullopt;
  }
  in_addr loopback;
  loopback.s_addr = htonl(INADDR_LOOPBACK);
  h = nullptr;
  while (db.gethostbyaddr_r(&loopback, sizeof loopback, AF_INET, &th, buffer.data(), buffer.size(),
                            &h, &herror) != 0) {
    if (herror == NETDB_INTERNAL && errno == ERANGE) {
      buffer.resize(buffer.size() * 2);
    } else {
      break;
    }
  }
  if (h != nullptr) return domain_after_dot(h->h_name);
  return std::nullopt;
}

std::optional<std::string> local_domain(HostsDatabase& db) {
  DomainCache& cache = domain_cache();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    if (cache.known) return cache.domain;
  }
  std::optional<std::string> domain = lookup_local_domain(db);  // may wait on the hub
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (!cache.known) {
    cache.known = true;
    cache.domain = domain;
  }
  return cache.domain;
}

int host_inet_name(HostsDatabase& db, const sockaddr* sa, char* host, socklen_t hostlen,
                   int flags) {
  std::vector<char> buffer(1024);
  hostent th{};
  hostent* h = nullptr;
  int herrno = 0;
  const void* addr;
  socklen_t len;
  int af;
  if (sa->sa_family == AF_INET6) {
    addr = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    len = sizeof(in6_addr);
    af = AF_INET6;
  } else {
    addr = &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr;
    len = sizeof(in_addr);
    af = AF_INET;
  }
  while (db.gethostbyaddr_r(addr, len, af, &th, buffer.data(), buffer.size(), &h, &herrno) != 0) {
    if (herrno == NETDB_INTERNAL && errno == ERANGE) {
      buffer.resize(buffer.size() * 2);
    } else {
      break;
    }
  }
  if (h == nullptr) {
    if (herrno == NETDB_INTERNAL) {
      h_errno = herrno;
      return EAI_SYSTEM;
    }
    if (herrno == TRY_AGAIN) {
      h_errno = herrno;
      return EAI_AGAIN;
    }
    return EAI_NONAME;
  }
  if ((flags & NI_NOFQDN) != 0) {
    std::optional<std::string> domain = local_domain(db);
    char* c;
    if (domain && (c = std::strstr(h->h_name, domain->c_str())) != nullptr && c != h->h_name &&
        *(--c) == '.') {
      *c = '\0';
    }
  }
  size_t length = std::strlen(h->h_name) + 1;
  if (length > hostlen) return EAI_OVERFLOW;
  std::memcpy(host, h->h_name, length);
  return 0;
}

int host_inet_numeric(const sockaddr* sa, char* host, socklen_t hostlen) {
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, hostlen) == nullptr) return EAI_OVERFLOW;
    uint32_t scopeid = sin6->sin6_scope_id;
    if (scopeid != 0) {
      size_t used = strnlen(host, hostlen);
      char* scope_start = host + used;
      size_t scope_length = hostlen - used;
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&sin6->sin6_addr)) {
        char scopebuf[IFNAMSIZ];
        if (if_indextoname(scopeid, scopebuf) != nullptr) {
          return check_sprintf_result(std::snprintf(scope_start, scope_length, "%%%s", scopebuf),
                                      scope_length);
        }
      }
      return check_sprintf_result(std::snprintf(scope_start, scope_length, "%%%u", scopeid),
                                  scope_length);
    }
    return 0;
  }
  const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
  if (inet_ntop(AF_INET, &sin->sin_addr, host, hostlen) == nullptr) return EAI_OVERFLOW;
  return 0;
}

int host_part(HostsDatabase& db, const sockaddr* sa, char* host, socklen_t hostlen, int flags) {
  switch (sa->sa_family) {
    case AF_INET:
    case AF_INET6:
      if ((flags & NI_NUMERICHOST) == 0) {
        int result = host_inet_name(db, sa, host, hostlen, flags);
        if (result != EAI_NONAME) return result;
      }
      if ((flags & NI_NAMEREQD) != 0) return EAI_NONAME;
      return host_inet_numeric(sa, host, hostlen);
    case AF_LOCAL:
      if ((flags & NI_NUMERICHOST) == 0) {
        utsname names;
        if (uname(&names) == 0) return checked_copy(host, hostlen, names.nodename);
      }
      if ((flags & NI_NAMEREQD) != 0) return EAI_NONAME;
      return checked_copy(host, hostlen, "localhost");
    default:
      return EAI_FAMILY;
  }
}

int service_part(const sockaddr* sa, char* serv, socklen_t servlen, int flags) {
  switch (sa->sa_family) {
    case AF_INET:
    case AF_INET6: {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
      if ((flags & NI_NUMERICSERV) == 0) {
        std::vector<char> buffer(1024);
        servent ts;
        servent* s = nullptr;
        int e;
        while ((e = getservbyport_r(sin->sin_port, (flags & NI_DGRAM) != 0 ? "udp" : "tcp", &ts,
                                    buffer.data(), buffer.size(), &s)) != 0) {
          if (e != ERANGE) break;
          buffer.resize(buffer.size() * 2);
        }
        if (s != nullptr) return checked_copy(serv, servlen, s->s_name);
      }
      return check_sprintf_result(std::snprintf(serv, servlen, "%d", ntohs(sin->sin_port)),
                                  servlen);
    }
    case AF_LOCAL:
      return checked_copy(serv, servlen, reinterpret_cast<const sockaddr_un*>(sa)->sun_path);
    default:
      return EAI_FAMILY;
  }
}

}  // namespace

int AresLookups::getnameinfo(const sockaddr* sa, socklen_t addrlen, char* host, socklen_t hostlen,
                             char* serv, socklen_t servlen, int flags) {
  if ((flags & ~(NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN | NI_NAMEREQD | NI_DGRAM | NI_IDN |
                 kDeprecatedNiIdn)) != 0) {
    return EAI_BADFLAGS;
  }
  if (sa == nullptr || addrlen < sizeof(sa_family_t)) return EAI_FAMILY;
  if ((flags & NI_NAMEREQD) != 0 && host == nullptr && serv == nullptr) return EAI_NONAME;
  switch (sa->sa_family) {
    case AF_LOCAL:
      if (addrlen < static_cast<socklen_t>(offsetof(sockaddr_un, sun_path))) return EAI_FAMILY;
      break;
    case AF_INET:
      if (addrlen < sizeof(sockaddr_in)) return EAI_FAMILY;
      break;
    case AF_INET6:
      if (addrlen < sizeof(sockaddr_in6)) return EAI_FAMILY;
      break;
    default:
      return EAI_FAMILY;
  }
  if (host != nullptr && hostlen > 0) {
    if (int result = host_part(database_, sa, host, hostlen, flags); result != 0) return result;
  }
  if (serv != nullptr && servlen > 0) {
    if (int result = service_part(sa, serv, servlen, flags); result != 0) return result;
  }
  return 0;
}

}  // namespace greenhub::detail
