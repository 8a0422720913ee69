// res_query, res_search, res_querydomain and res_send through each green
// resolver equal glibc's: return value, h_errno, errno, and the answer
// (message IDs aside, which glibc draws at random for each query it
// builds; res_send's are the caller's and compared too).
#include <arpa/nameser.h>
#include <gtest/gtest.h>

#include "dns_differential.hpp"
#include "dns_environment.hpp"

namespace dnstest {
namespace {

class ResTest : public ::testing::Test {
 protected:
  void SetUp() override { DnsEnvironment::instance().use_standard_resolv_conf(); }
};

const char* const kNames[] = {"a.test",      "alias.test",    "multi.test",   "nxdomain.test",
                              "nodata.test", "servfail.test", "refused.test", "big.test",
                              "tc.test",     "www",           "host",         "a.test.",
                              "x..test",     "dangling.test"};

TEST_F(ResTest, QuerySearchQuerydomain) {
  for (const char* name : kNames) {
    for (int type : {ns_t_a, ns_t_aaaa, ns_t_mx, ns_t_txt, ns_t_cname}) {
      expect_same_res(ResCall::kQuery, name, nullptr, type);
      expect_same_res(ResCall::kSearch, name, nullptr, type);
    }
    expect_same_res(ResCall::kQuerydomain, name, nullptr, ns_t_a);
    expect_same_res(ResCall::kQuerydomain, name, "test", ns_t_a);
  }
  expect_same_res(ResCall::kQuery, "1.2.0.192.in-addr.arpa", nullptr, ns_t_ptr);
  expect_same_res(ResCall::kQuery, "66.2.0.192.in-addr.arpa", nullptr, ns_t_ptr);
}

TEST_F(ResTest, SmallAnswerBuffers) {
  for (int anslen : {0, 12, 40, 512}) {
    expect_same_res(ResCall::kQuery, "a.test", nullptr, ns_t_a, anslen);
    expect_same_res(ResCall::kQuery, "big.test", nullptr, ns_t_a, anslen);
  }
}

TEST_F(ResTest, Send) {
  for (const char* name :
       {"a.test", "alias.test", "nxdomain.test", "servfail.test", "big.test", "tc.test", "www"}) {
    expect_same_res_send(name, ns_t_a);
    expect_same_res_send(name, ns_t_aaaa);
  }
  expect_same_res_send("a.test", ns_t_a, 40);
  expect_same_res_send("big.test", ns_t_a, 100);
}

TEST_F(ResTest, OtherConfigurations) {
  DnsEnvironment& env = DnsEnvironment::instance();
  env.use_standard_resolv_conf("options edns0 trust-ad\n");
  for (const char* name : {"a.test", "big.test", "www"}) {
    expect_same_res(ResCall::kSearch, name, nullptr, ns_t_a);
    expect_same_res_send(name, ns_t_a);
  }
  env.write_resolv_conf("nameserver " + env.dead() + "\noptions timeout:1 attempts:1\n");
  expect_same_res(ResCall::kQuery, "a.test", nullptr, ns_t_a);
  expect_same_res(ResCall::kSearch, "a", nullptr, ns_t_a);
  expect_same_res_send("a.test", ns_t_a);
  env.write_resolv_conf(
      "nameserver " + env.primary() +
      "\nsearch nothing.servfail.test test\noptions ndots:2 timeout:1 attempts:1\n");
  for (const char* name : {"www", "a", "none.x", "www.sub"}) {
    expect_same_res(ResCall::kSearch, name, nullptr, ns_t_a);
  }
}

}  // namespace
}  // namespace dnstest
