// HostsDatabase: gethostbyname2_r and gethostbyaddr_r as glibc runs them
// (nss/getXXbyYY_r.c) over the hosts sources of nsswitch.conf — numeric
// names handled first by glibc's own __nss_hostname_digits_dots, then each
// source in order until one succeeds or reports a buffer too small. The
// files source is glibc's own function writing into the caller's hostent
// and buffer; the dns source's answer is laid out there as nss_dns lays it
// out. The return value, *h_errnop and errno are glibc's:
//
//   found or not found          0 (errno 0); *result null if not found
//   buffer too small            ERANGE, h_errno NETDB_INTERNAL
//   temporary failure           EAGAIN (TRY_AGAIN...)
//   other failures              the errno the source left
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <memory>

#include "host_sources.hpp"
#include "hosts_config.hpp"

namespace greenhub::detail {

class HostsDatabase {
 public:
  HostsDatabase(const HostsConfig& hosts, HostSources& sources)
      : hosts_(hosts), sources_(sources) {}

  int gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,
                       hostent** result, int* h_errnop);
  int gethostbyaddr_r(const void* addr, socklen_t len, int af, hostent* ret, char* buf,
                      size_t buflen, hostent** result, int* h_errnop);

 private:
  // glibc's epilogue: *result, the return value and errno from the last
  // source's status.
  static int finish(nss_status status, hostent* ret, hostent** result, int* h_errnop);

  const HostsConfig& hosts_;
  HostSources& sources_;
};

// Lay a hostent out in the caller's buffer as nss_dns does (see
// AllocBuffer): for a name lookup (data.layout gives the order) and for an
// address lookup. False when buflen is too small.
bool pack_dns_hostent(const HostData& data, hostent* ret, char* buf, size_t buflen);
bool pack_dns_address_hostent(const HostData& data, hostent* ret, char* buf, size_t buflen);

}  // namespace greenhub::detail
