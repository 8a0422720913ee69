// getaddrinfo and getnameinfo of the asynchronous resolver: glibc 2.36's
// (sysdeps/posix/getaddrinfo.c, inet/getnameinfo.c) step for step, on
// HostsDatabase / HostSources instead of the NSS modules.
//
// getaddrinfo
//   flag and family checks; AI_ADDRCONFIG from the interface list; the
//   service as a number or through getservbyname_r (/etc/services) for
//   each socket type; the host as NULL (local addresses), a numeric
//   address (with %scope), gethostbyname2_r for a plain AF_INET lookup,
//   or each hosts source in order (gethostbyname4_r for AF_UNSPEC,
//   gethostbyname3_r/2_r per family, with AI_V4MAPPED / AI_ALL mapping);
//   the canonical name; one entry per address and socket type; RFC 3484
//   sorting when there is more than one address.
//   Each entry is one malloc() holding the addrinfo and its sockaddr, and
//   ai_canonname is its own malloc(): glibc's freeaddrinfo frees the list,
//   and so does greenhub::freeaddrinfo.
//
// AI_IDN and AI_CANONIDN are not handled here (the caller sends those
// lookups to glibc).
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include "hosts_database.hpp"

namespace greenhub::detail {

class AresLookups {
 public:
  AresLookups(const HostsConfig& hosts, HostSources& sources)
      : hosts_(hosts), sources_(sources), database_(hosts, sources) {}

  int getaddrinfo(const char* name, const char* service, const addrinfo* hints, addrinfo** pai);
  int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
                  socklen_t servlen, int flags);
  HostsDatabase& database() { return database_; }

 private:
  struct Result;
  int gaih_inet(const char* name, int port_or_minus1, const char* service_name, bool has_service,
                const addrinfo* req, addrinfo** pai, unsigned* naddrs);
  int try_simple_gethostbyname(const char* name, const addrinfo* req, Result* res);
  int get_nss_addresses(const char* name, const addrinfo* req, Result* res);

  const HostsConfig& hosts_;
  HostSources& sources_;
  HostsDatabase database_;
};

}  // namespace greenhub::detail
