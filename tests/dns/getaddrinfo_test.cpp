// getaddrinfo through each green resolver equals glibc's, for a table of
// names, flags, families, socket types and services, under several
// resolv.conf configurations (see dns_test_server.py for the zone and
// dns_environment.cpp for /etc/hosts).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "dns_differential.hpp"
#include "dns_environment.hpp"

namespace dnstest {
namespace {

// Names covering the zone's behaviours and /etc/hosts.
const char* const kNames[] = {
    "a.test",
    "A.TEST",
    "multi.test",
    "loop.test",
    "v4only.test",
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
    "mixedcase.test",
    "servfail.test",
    "refused.test",
    "notimp.test",
    "formerr.test",
    "servfail-aaaa.test",
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
    "only",
    "host",
    "www.sub",
    "a.test.",
    "www.",
    "-leading.test",
    "x..test",
    "under_score.test",
    "",
};

struct Hints {
  int family;
  int socktype;
  int flags;
};

const Hints kHints[] = {
    {AF_UNSPEC, 0, 0},
    {AF_UNSPEC, SOCK_STREAM, AI_CANONNAME},
    {AF_INET, 0, 0},
    {AF_INET, SOCK_DGRAM, AI_CANONNAME},
    {AF_INET6, 0, 0},
    {AF_INET6, SOCK_STREAM, AI_V4MAPPED},
    {AF_INET6, 0, AI_V4MAPPED | AI_ALL | AI_CANONNAME},
    {AF_UNSPEC, SOCK_STREAM, AI_ADDRCONFIG},
};

class GetaddrinfoTest : public ::testing::Test {
 protected:
  void SetUp() override { DnsEnvironment::instance().use_standard_resolv_conf(); }
  static DnsEnvironment& env() { return DnsEnvironment::instance(); }

  static void all_names(const std::vector<const char*>& names, Under under = Under::kBoth) {
    for (const char* name : names) {
      for (const Hints& h : kHints) {
        GaiCase c{name};
        c.family = h.family;
        c.socktype = h.socktype;
        c.flags = h.flags;
        expect_same_getaddrinfo(c, under);
      }
      GaiCase null_hints{name};
      null_hints.null_hints = true;
      expect_same_getaddrinfo(null_hints, under);
    }
  }
};

TEST_F(GetaddrinfoTest, NamesFlagsAndFamilies) {
  all_names(std::vector<const char*>(std::begin(kNames), std::end(kNames)));
}

TEST_F(GetaddrinfoTest, NumericHosts) {
  const char* const numeric[] = {"192.0.2.1",  "1.2.3",     "0x7f.1",         "1.2.3.4 ",
                                 "127.1",      "::1",       "::ffff:1.2.3.4", "2001:db8::1",
                                 "fe80::1%lo", "fe80::1%1", "fe80::1%bogus",  "2001:db8::1%5",
                                 "::1%",       "[::1]",     "256.1.1.1",      "1.2.3.4.5"};
  for (const char* name : numeric) {
    for (int flags : {0, AI_NUMERICHOST, AI_CANONNAME, AI_V4MAPPED, AI_NUMERICHOST | AI_PASSIVE}) {
      for (int family : {AF_UNSPEC, AF_INET, AF_INET6}) {
        GaiCase c{name};
        c.family = family;
        c.flags = flags;
        expect_same_getaddrinfo(c);
      }
    }
  }
  // A name that is not numeric, with AI_NUMERICHOST.
  GaiCase c{"a.test"};
  c.flags = AI_NUMERICHOST;
  expect_same_getaddrinfo(c);
}

TEST_F(GetaddrinfoTest, ServicesAndSocketTypes) {
  const char* const services[] = {nullptr, "80",    "http", "domain", "ssh", "no-such-service",
                                  "65535", "65536", "-1",   "0",      " 80", "80x",
                                  ""};
  for (const char* service : services) {
    for (int socktype :
         std::initializer_list<int>{0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET}) {
      GaiCase c{"dual.test", service};
      c.socktype = socktype;
      expect_same_getaddrinfo(c);
      c.flags = AI_NUMERICSERV;
      expect_same_getaddrinfo(c);
    }
  }
  for (int protocol : {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_UDPLITE, IPPROTO_ICMP}) {
    for (int socktype : std::initializer_list<int>{0, SOCK_STREAM, SOCK_DGRAM}) {
      GaiCase c{"a.test", "http"};
      c.socktype = socktype;
      c.protocol = protocol;
      expect_same_getaddrinfo(c);
    }
  }
}

TEST_F(GetaddrinfoTest, NullAndWildcardNodes) {
  for (const char* node : {static_cast<const char*>(nullptr), "*"}) {
    for (const char* service : {static_cast<const char*>(nullptr), "*", "8080", "http"}) {
      for (int flags : {0, AI_PASSIVE, AI_CANONNAME, AI_PASSIVE | AI_V4MAPPED}) {
        for (int family : {AF_UNSPEC, AF_INET, AF_INET6}) {
          GaiCase c{node, service};
          c.family = family;
          c.flags = flags;
          expect_same_getaddrinfo(c);
        }
      }
    }
  }
}

TEST_F(GetaddrinfoTest, BadArguments) {
  GaiCase bad_flags{"a.test"};
  bad_flags.flags = 0x10000;
  expect_same_getaddrinfo(bad_flags);
  GaiCase bad_family{"a.test"};
  bad_family.family = AF_UNIX;
  expect_same_getaddrinfo(bad_family);
  GaiCase canon_without_name{nullptr, "80"};
  canon_without_name.flags = AI_CANONNAME;
  expect_same_getaddrinfo(canon_without_name);
  GaiCase bad_socktype{"a.test"};
  bad_socktype.socktype = 12345;
  expect_same_getaddrinfo(bad_socktype);
}

TEST_F(GetaddrinfoTest, IdnGoesToGlibc) {
  GaiCase c{"a.test"};
  c.flags = AI_IDN;
  c.ares_falls_back = true;
  expect_same_getaddrinfo(c);
  c.flags = AI_IDN | AI_CANONNAME | AI_CANONIDN;
  expect_same_getaddrinfo(c);
}

TEST_F(GetaddrinfoTest, NdotsAndSearchList) {
  const std::vector<const char*> names = {"www",    "www.sub",  "only",     "host",         "a",
                                          "a.test", "nxdomain", "servfail", "www.sub.test."};
  env().write_resolv_conf("nameserver " + env().primary() +
                          "\nsearch sub.test test\noptions ndots:3 timeout:1 attempts:1\n");
  all_names(names);
  env().write_resolv_conf("nameserver " + env().primary() + "\ndomain test\noptions timeout:1\n");
  all_names(names);
  env().write_resolv_conf("nameserver " + env().primary() +
                          "\nsearch sub.test test\noptions no-tld-query timeout:1 attempts:1\n");
  all_names(names);
  env().write_resolv_conf("nameserver " + env().primary() +
                          "\nsearch sub.test . test\noptions timeout:1 attempts:1\n");
  all_names(names);
  // A search domain answering SERVFAIL before the one that knows the name.
  env().write_resolv_conf("nameserver " + env().primary() +
                          "\nsearch servfail.test test\noptions timeout:1 attempts:1\n");
  all_names({"www", "a", "nothing"});
}

TEST_F(GetaddrinfoTest, ServersAttemptsAndRotation) {
  const std::vector<const char*> names = {"a.test", "multi.test", "servfail.test", "nxdomain.test",
                                          "alias.test"};
  // The first server's port is closed: glibc moves on at once.
  env().write_resolv_conf("nameserver " + env().dead() + "\nnameserver " + env().primary() +
                          "\noptions timeout:1 attempts:2\n");
  all_names(names);
  env().write_resolv_conf("nameserver " + env().primary() + "\nnameserver " + env().secondary() +
                          "\noptions rotate timeout:1 attempts:1\n");
  all_names(names);
  // An IPv6 nameserver (nothing listens on ::1 port 53).
  env().write_resolv_conf("nameserver ::1\nnameserver " + env().primary() +
                          "\noptions timeout:1 attempts:1\n");
  all_names(names);
  // No server at all answers.
  env().write_resolv_conf("nameserver " + env().dead() + "\noptions timeout:1 attempts:2\n");
  all_names({"a.test", "onlyfile", "localhost"});
}

TEST_F(GetaddrinfoTest, Options) {
  const std::vector<const char*> names = {"a.test",  "dual.test",  "multi.test",  "big.test",
                                          "tc.test", "alias.test", "v6only.test", "nodata.test"};
  // "inet6" is deprecated: glibc parses it and no longer acts on it.
  for (const char* options : {"edns0", "edns0 trust-ad", "no-aaaa", "use-vc", "single-request",
                              "single-request-reopen", "inet6"}) {
    env().use_standard_resolv_conf(std::string("options ") + options + "\n");
    all_names(names);
  }
}

TEST_F(GetaddrinfoTest, Timeouts) {
  // Each lookup waits out the 1 s timeout, per resolver.
  for (int family : {AF_UNSPEC, AF_INET}) {
    GaiCase c{"blackhole.test"};
    c.family = family;
    expect_same_getaddrinfo(c);
  }
}

}  // namespace
}  // namespace dnstest
