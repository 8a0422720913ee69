// getnameinfo through each green resolver equals glibc's.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "dns_differential.hpp"
#include "dns_environment.hpp"

namespace dnstest {
namespace {

class GetnameinfoTest : public ::testing::Test {
 protected:
  void SetUp() override { DnsEnvironment::instance().use_standard_resolv_conf(); }
};

const int kFlags[] = {0,
                      NI_NUMERICHOST,
                      NI_NAMEREQD,
                      NI_NUMERICSERV,
                      NI_DGRAM,
                      NI_NOFQDN,
                      NI_NUMERICHOST | NI_NUMERICSERV,
                      NI_NAMEREQD | NI_DGRAM};

TEST_F(GetnameinfoTest, Inet) {
  for (const char* text :
       {"192.0.2.1", "192.0.2.30", "10.9.9.9", "127.0.0.1", "192.0.2.66", "192.0.2.200"}) {
    for (int port : {0, 22, 53, 80, 12345}) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, text, &sin.sin_addr);
      const auto* sa = reinterpret_cast<const sockaddr*>(&sin);
      for (int flags : kFlags)
        expect_same_getnameinfo(sa, sizeof sin, NI_MAXHOST, NI_MAXSERV, flags);
      expect_same_getnameinfo(sa, sizeof sin, 4, NI_MAXSERV, 0);  // host buffer too small
      expect_same_getnameinfo(sa, sizeof sin, NI_MAXHOST, 2, 0);  // service buffer too small
      expect_same_getnameinfo(sa, sizeof sin, 0, NI_MAXSERV, 0);  // no host wanted
      expect_same_getnameinfo(sa, sizeof sin, NI_MAXHOST, 0, 0);  // no service wanted
    }
  }
}

TEST_F(GetnameinfoTest, Inet6) {
  for (const char* text : {"2001:db8::6", "::1", "::ffff:192.0.2.1", "2001:db8::99", "fe80::1"}) {
    for (uint32_t scope : {0u, 1u, 77u}) {
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      sin6.sin6_port = htons(443);
      sin6.sin6_scope_id = scope;
      inet_pton(AF_INET6, text, &sin6.sin6_addr);
      const auto* sa = reinterpret_cast<const sockaddr*>(&sin6);
      for (int flags : kFlags) {
        expect_same_getnameinfo(sa, sizeof sin6, NI_MAXHOST, NI_MAXSERV, flags);
      }
      expect_same_getnameinfo(sa, sizeof sin6, 10, NI_MAXSERV, NI_NUMERICHOST);
    }
  }
}

TEST_F(GetnameinfoTest, OtherFamiliesAndBadArguments) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::strcpy(sun.sun_path, "/run/some.socket");
  const auto* sa = reinterpret_cast<const sockaddr*>(&sun);
  expect_same_getnameinfo(sa, sizeof sun, NI_MAXHOST, NI_MAXSERV, 0);
  expect_same_getnameinfo(sa, sizeof sun, NI_MAXHOST, NI_MAXSERV, NI_NUMERICHOST);
  expect_same_getnameinfo(sa, offsetof(sockaddr_un, sun_path) - 1, NI_MAXHOST, NI_MAXSERV, 0);

  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
  const auto* sa4 = reinterpret_cast<const sockaddr*>(&sin);
  expect_same_getnameinfo(sa4, sizeof sin - 1, NI_MAXHOST, NI_MAXSERV, 0);    // salen too short
  expect_same_getnameinfo(sa4, sizeof sin, NI_MAXHOST, NI_MAXSERV, 0x10000);  // bad flags
  expect_same_getnameinfo(sa4, sizeof sin, 0, 0, NI_NAMEREQD);
  sockaddr other{};
  other.sa_family = AF_APPLETALK;
  expect_same_getnameinfo(&other, sizeof other, NI_MAXHOST, NI_MAXSERV, 0);
}

}  // namespace
}  // namespace dnstest
