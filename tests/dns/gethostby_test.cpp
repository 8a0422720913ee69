// gethostbyname, gethostbyname2, gethostbyaddr and their _r forms through
// each green resolver equal glibc's: result, aliases, addresses, h_errno,
// the return value and errno.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <thread>

#include "dns_differential.hpp"
#include "dns_environment.hpp"

namespace dnstest {
namespace {

const char* const kNames[] = {
    "a.test",
    "multi.test",
    "v6only.test",
    "dual.test",
    "alias.test",
    "dangling.test",
    "to-nodata.test",
    "to-v6only.test",
    "to-badname.test",
    "bad_name.test",
    "nodata.test",
    "mxonly.test",
    "servfail.test",
    "refused.test",
    "nxdomain.test",
    "tc.test",
    "big.test",
    "foreign.test",
    "filehost.test",
    "filealias",
    "onlyfile",
    "mapped-file.test",
    "localhost",
    "www",
    "host",
    "a.test.",
    "-leading.test",
    "spa ce.test",
    "192.0.2.1",
    "1.2.3",
    "::1",
    "2001:db8::1",
    "",
};

class GethostbyTest : public ::testing::Test {
 protected:
  void SetUp() override { DnsEnvironment::instance().use_standard_resolv_conf(); }
};

TEST_F(GethostbyTest, ByName) {
  for (const char* name : kNames) {
    expect_same_gethostbyname(name, -1);
    expect_same_gethostbyname(name, AF_INET);
    expect_same_gethostbyname(name, AF_INET6);
  }
  expect_same_gethostbyname("a.test", AF_UNIX);
}

TEST_F(GethostbyTest, SmallBuffers) {
  for (const char* name : {"a.test", "filehost.test", "192.0.2.1", "nxdomain.test"}) {
    for (size_t buflen : {0, 8, 40}) expect_same_gethostbyname(name, AF_INET, buflen);
  }
}

TEST_F(GethostbyTest, Sortlist) {
  DnsEnvironment::instance().use_standard_resolv_conf(
      "sortlist 198.51.100.0/255.255.255.0 10.0.0.0/255.0.0.0 127.0.0.0\n");
  expect_same_gethostbyname("multi.test", AF_INET);
  expect_same_gethostbyname("multi.test", -1);
}

TEST_F(GethostbyTest, ByAddress) {
  const char* const v4[] = {"192.0.2.1", "192.0.2.30", "203.0.113.4", "192.0.2.66",  "192.0.2.67",
                            "10.9.9.9",  "127.0.0.1",  "192.0.2.200", "192.0.2.211", "10.9.8.7"};
  for (const char* text : v4) {
    in_addr a;
    ASSERT_EQ(inet_pton(AF_INET, text, &a), 1);
    expect_same_gethostbyaddr(&a, sizeof a, AF_INET);
    expect_same_gethostbyaddr(&a, sizeof a, AF_INET6);  // length/family mismatch
  }
  const char* const v6[] = {"2001:db8::6",        "2001:db8::30", "::1",
                            "::ffff:192.0.2.1",   "::192.0.2.1",  "2001:db8::200",
                            "::ffff:192.0.2.211", "2001:db8::99"};
  for (const char* text : v6) {
    in6_addr a;
    ASSERT_EQ(inet_pton(AF_INET6, text, &a), 1);
    expect_same_gethostbyaddr(&a, sizeof a, AF_INET6);
    expect_same_gethostbyaddr(&a, sizeof a, AF_INET);
  }
  // glibc answers :: before looking anything up, but leaks the thread's
  // resolver context doing so: that thread's _res is never reloaded from
  // resolv.conf again. So this check runs on a thread of its own.
  std::thread([] {
    in6_addr any{};
    expect_same_gethostbyaddr(&any, sizeof any, AF_INET6);
    expect_same_gethostbyaddr(&any, sizeof any, AF_INET);
  }).join();
  in_addr a;
  inet_pton(AF_INET, "192.0.2.1", &a);
  expect_same_gethostbyaddr(&a, sizeof a, AF_INET, 16);  // buffer too small
  expect_same_gethostbyaddr(&a, 3, AF_INET);             // short address
  expect_same_gethostbyaddr(&a, sizeof a, AF_UNIX);
}

}  // namespace
}  // namespace dnstest
