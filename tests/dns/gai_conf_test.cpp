// getaddrinfo's order under a custom /etc/gai.conf (run in a process of
// its own: glibc reads the file once per process), and with the default
// tables in the main run.
#include <gtest/gtest.h>

#include "dns_differential.hpp"
#include "dns_environment.hpp"

namespace dnstest {
namespace {

TEST(GaiConf, SortOrder) {
  DnsEnvironment::instance().use_standard_resolv_conf();
  for (const char* name :
       {"multi.test", "loop.test", "dual.test", "localhost", "filehost.test", "real.test"}) {
    for (int family : {AF_UNSPEC, AF_INET, AF_INET6}) {
      for (int flags : {0, AI_V4MAPPED, AI_V4MAPPED | AI_ALL, AI_CANONNAME}) {
        GaiCase c{name};
        c.family = family;
        c.flags = flags;
        expect_same_getaddrinfo(c);
      }
    }
  }
}

}  // namespace
}  // namespace dnstest
