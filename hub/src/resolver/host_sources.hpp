// HostSources: the two sources of the NSS hosts database the asynchronous
// resolver follows — `files` (/etc/hosts, through glibc's own backend) and
// `dns` (nss_dns's functions, rebuilt on DnsClient) — behind the calls
// glibc makes on an NSS module:
//
//   gethostbyname4_r  all addresses of a name (getaddrinfo, AF_UNSPEC)
//   gethostbyname3_r  addresses of one family, with the canonical name
//   gethostbyname2_r  the same, after nss_dns's host-name check
//   gethostbyaddr2_r  the name of an address
//
// Each returns what the module would: an NssOutcome (status, h_errno,
// errno) and the data. nss_dns's mapping of resolver failures is kept:
// no nameserver configured -> TRYAGAIN/TRY_AGAIN; timeouts and refused
// connections -> UNAVAIL; rcode failures -> NOTFOUND with the h_errno of
// the answers (HOST_NOT_FOUND, NO_DATA, TRY_AGAIN...).
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "dns_client.hpp"
#include "host_data.hpp"
#include "hosts_config.hpp"

namespace greenhub::detail {

class HostSources {
 public:
  explicit HostSources(std::shared_ptr<const DnsConfig> dns)
      : dns_(std::move(dns), __res_state()) {}

  NssOutcome gethostbyname4(HostsSource source, const char* name, std::vector<AddressTuple>* out);
  // check_name: nss_dns's gethostbyname2_r/gethostbyname_r refuse names that
  // are not host names; its gethostbyname3_r does not.
  NssOutcome gethostbyname3(HostsSource source, const char* name, int af, bool check_name,
                            HostData* out, std::string* canon);
  NssOutcome gethostbyaddr(HostsSource source, const void* addr, socklen_t len, int af,
                           HostData* out);

  DnsClient& dns() { return dns_; }

 private:
  DnsClient dns_;
};

}  // namespace greenhub::detail
