#include "dns_differential.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <gtest/gtest.h>
#include <resolv.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "dns_describe.hpp"

namespace dnstest {

namespace {

using greenhub::Resolver;
using greenhub::ResolverStats;

constexpr int kSentinel = 4242;  // h_errno / errno before a call: "left alone" shows

std::vector<Resolver*> resolvers(Under under) {
  switch (under) {
    case Under::kAres:
      return {&Resolver::ares()};
    case Under::kThread:
      return {&Resolver::thread()};
    case Under::kBoth:
      break;
  }
  return {&Resolver::ares(), &Resolver::thread()};
}

// Checks that a resolver answered by itself (ares: no fallback; thread: not
// sent to glibc on the calling thread).
class AnsweredBy {
 public:
  AnsweredBy(Resolver* r, bool fallback_expected)
      : resolver_(r), fallback_expected_(fallback_expected), before_(greenhub::resolver_stats()) {}

  void check(const std::string& what) const {
    const ResolverStats after = greenhub::resolver_stats();
    EXPECT_EQ(after.block, before_.block) << resolver_->name() << " sent to glibc: " << what;
    if (resolver_ == &Resolver::ares()) {
      if (fallback_expected_) {
        EXPECT_GT(after.ares_fallbacks, before_.ares_fallbacks) << "no fallback: " << what;
      } else {
        EXPECT_GT(after.ares, before_.ares) << "ares did not answer: " << what;
        EXPECT_EQ(after.ares_fallbacks, before_.ares_fallbacks)
            << "ares fell back (" << (greenhub::ares_fallback_reason() ?: "flags") << "): " << what;
      }
    } else {
      EXPECT_GT(after.thread, before_.thread) << "thread did not answer: " << what;
    }
  }

 private:
  Resolver* resolver_;
  bool fallback_expected_;
  ResolverStats before_;
};

std::string family_name(int family) {
  switch (family) {
    case AF_UNSPEC:
      return "UNSPEC";
    case AF_INET:
      return "INET";
    case AF_INET6:
      return "INET6";
    default:
      return std::to_string(family);
  }
}

}  // namespace

std::string label(const GaiCase& c) {
  std::string out =
      std::string("node=") + (c.node != nullptr ? "'" + std::string(c.node) + "'" : "null") +
      " service=" + (c.service != nullptr ? "'" + std::string(c.service) + "'" : "null");
  if (c.null_hints) return out + " hints=null";
  char flags[16];
  std::snprintf(flags, sizeof flags, "0x%x", static_cast<unsigned>(c.flags));
  return out + " family=" + family_name(c.family) + " socktype=" + std::to_string(c.socktype) +
         " protocol=" + std::to_string(c.protocol) + " flags=" + flags;
}

void expect_same_getaddrinfo(const GaiCase& c, Under under) {
  addrinfo hints{};
  hints.ai_family = c.family;
  hints.ai_socktype = c.socktype;
  hints.ai_protocol = c.protocol;
  hints.ai_flags = c.flags;
  const addrinfo* h = c.null_hints ? nullptr : &hints;

  addrinfo* native_list = nullptr;
  const int native_rc = ::getaddrinfo(c.node, c.service, h, &native_list);
  const std::string native = describe_addrinfo(native_rc, native_list);
  if (native_rc == 0) ::freeaddrinfo(native_list);

  for (Resolver* r : resolvers(under)) {
    AnsweredBy answered(r, c.ares_falls_back);
    addrinfo* list = nullptr;
    const int rc = r->getaddrinfo(c.node, c.service, h, &list);
    EXPECT_EQ(native, describe_addrinfo(rc, list)) << r->name() << ": " << label(c);
    answered.check(label(c));
    if (rc == 0) ::freeaddrinfo(list);  // glibc frees greenhub's lists
  }
}

void expect_same_gethostbyname(const char* name, int af, size_t buflen, Under under) {
  const std::string what = std::string("gethostbyname") + (af < 0 ? "" : "2") + "(" + name +
                           (af < 0 ? "" : ", " + family_name(af)) +
                           ") buflen=" + std::to_string(buflen);
  auto reentrant = [&](Resolver* r, std::string* out) {
    std::vector<char> buf(buflen);
    hostent ret{};
    hostent* result = reinterpret_cast<hostent*>(1);
    int herrno = kSentinel;
    errno = kSentinel;
    int rc;
    if (r == nullptr) {
      rc = af < 0 ? ::gethostbyname_r(name, &ret, buf.data(), buflen, &result, &herrno)
                  : ::gethostbyname2_r(name, af, &ret, buf.data(), buflen, &result, &herrno);
    } else {
      rc = af < 0 ? r->gethostbyname_r(name, &ret, buf.data(), buflen, &result, &herrno)
                  : r->gethostbyname2_r(name, af, &ret, buf.data(), buflen, &result, &herrno);
    }
    const int error = errno;
    *out = describe_hostent(rc, result, herrno) + " errno=" + std::to_string(error);
  };
  auto plain = [&](Resolver* r, std::string* out) {
    h_errno = kSentinel;
    hostent* result;
    if (r == nullptr) {
      result = af < 0 ? ::gethostbyname(name) : ::gethostbyname2(name, af);
    } else {
      result = af < 0 ? r->gethostbyname(name) : r->gethostbyname2(name, af);
    }
    *out = describe_hostent_ptr(result, h_errno);
  };
  std::string native_r, native_plain;
  reentrant(nullptr, &native_r);
  plain(nullptr, &native_plain);
  for (Resolver* r : resolvers(under)) {
    AnsweredBy answered(r, false);
    std::string green_r, green_plain;
    reentrant(r, &green_r);
    plain(r, &green_plain);
    EXPECT_EQ(native_r, green_r) << r->name() << ": " << what << " (reentrant)";
    EXPECT_EQ(native_plain, green_plain) << r->name() << ": " << what;
    answered.check(what);
  }
}

void expect_same_gethostbyaddr(const void* addr, socklen_t len, int af, size_t buflen,
                               Under under) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (len == 4 || len == 16) inet_ntop(len == 4 ? AF_INET : AF_INET6, addr, text, sizeof text);
  const std::string what = std::string("gethostbyaddr(") + text + ", len " + std::to_string(len) +
                           ", " + family_name(af) + ") buflen=" + std::to_string(buflen);
  auto reentrant = [&](Resolver* r, std::string* out) {
    std::vector<char> buf(buflen);
    hostent ret{};
    hostent* result = reinterpret_cast<hostent*>(1);
    int herrno = kSentinel;
    errno = kSentinel;
    int rc = r == nullptr
                 ? ::gethostbyaddr_r(addr, len, af, &ret, buf.data(), buflen, &result, &herrno)
                 : r->gethostbyaddr_r(addr, len, af, &ret, buf.data(), buflen, &result, &herrno);
    const int error = errno;
    *out = describe_hostent(rc, result, herrno) + " errno=" + std::to_string(error);
  };
  auto plain = [&](Resolver* r, std::string* out) {
    h_errno = kSentinel;
    hostent* result =
        r == nullptr ? ::gethostbyaddr(addr, len, af) : r->gethostbyaddr(addr, len, af);
    *out = describe_hostent_ptr(result, h_errno);
  };
  std::string native_r, native_plain;
  reentrant(nullptr, &native_r);
  plain(nullptr, &native_plain);
  for (Resolver* r : resolvers(under)) {
    AnsweredBy answered(r, false);
    std::string green_r, green_plain;
    reentrant(r, &green_r);
    plain(r, &green_plain);
    EXPECT_EQ(native_r, green_r) << r->name() << ": " << what << " (reentrant)";
    EXPECT_EQ(native_plain, green_plain) << r->name() << ": " << what;
    answered.check(what);
  }
}

void expect_same_getnameinfo(const sockaddr* sa, socklen_t salen, socklen_t hostlen,
                             socklen_t servlen, int flags, Under under) {
  char text[INET6_ADDRSTRLEN + 16] = "?";
  if (sa != nullptr && sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  } else if (sa != nullptr && sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  }
  const std::string what = std::string("getnameinfo(") + text + ", salen " + std::to_string(salen) +
                           ", hostlen " + std::to_string(hostlen) + ", servlen " +
                           std::to_string(servlen) + ", flags " + std::to_string(flags) + ")";
  auto run = [&](Resolver* r) {
    std::vector<char> host(hostlen + 1, 'X');
    std::vector<char> serv(servlen + 1, 'Y');
    char* h = hostlen > 0 ? host.data() : nullptr;
    char* s = servlen > 0 ? serv.data() : nullptr;
    int rc = r == nullptr ? ::getnameinfo(sa, salen, h, hostlen, s, servlen, flags)
                          : r->getnameinfo(sa, salen, h, hostlen, s, servlen, flags);
    return describe_nameinfo(rc, h, s);
  };
  const std::string native = run(nullptr);
  for (Resolver* r : resolvers(under)) {
    AnsweredBy answered(r, false);
    EXPECT_EQ(native, run(r)) << r->name() << ": " << what;
    answered.check(what);
  }
}

void expect_same_res(ResCall call, const char* name, const char* domain, int type, int anslen,
                     Under under) {
  const char* call_name = call == ResCall::kQuery    ? "res_query"
                          : call == ResCall::kSearch ? "res_search"
                                                     : "res_querydomain";
  const std::string what = std::string(call_name) + "(" + name +
                           (domain != nullptr ? std::string(", ") + domain : "") + ", type " +
                           std::to_string(type) + ", anslen " + std::to_string(anslen) + ")";
  auto run = [&](Resolver* r) {
    // glibc writes a header's rcode whatever anslen is: leave room.
    std::vector<unsigned char> answer(static_cast<size_t>(anslen > 64 ? anslen : 64));
    h_errno = kSentinel;
    errno = kSentinel;
    int rc;
    switch (call) {
      case ResCall::kQuery:
        rc = r == nullptr ? ::res_query(name, ns_c_in, type, answer.data(), anslen)
                          : r->res_query(name, ns_c_in, type, answer.data(), anslen);
        break;
      case ResCall::kSearch:
        rc = r == nullptr ? ::res_search(name, ns_c_in, type, answer.data(), anslen)
                          : r->res_search(name, ns_c_in, type, answer.data(), anslen);
        break;
      default:
        rc = r == nullptr ? ::res_querydomain(name, domain, ns_c_in, type, answer.data(), anslen)
                          : r->res_querydomain(name, domain, ns_c_in, type, answer.data(), anslen);
        break;
    }
    const int error = errno;
    return describe_answer(rc, h_errno, error, answer.data(), anslen, /*mask_id=*/true);
  };
  const std::string native = run(nullptr);
  for (Resolver* r : resolvers(under)) {
    AnsweredBy answered(r, false);
    EXPECT_EQ(native, run(r)) << r->name() << ": " << what;
    answered.check(what);
  }
}

void expect_same_res_send(const char* name, int type, int anslen, Under under) {
  unsigned char query[512];
  const int qlen =
      ::res_mkquery(ns_o_query, name, ns_c_in, type, nullptr, 0, nullptr, query, sizeof query);
  ASSERT_GT(qlen, 0) << name;
  const std::string what = std::string("res_send(query for ") + name + ", type " +
                           std::to_string(type) + ", anslen " + std::to_string(anslen) + ")";
  auto run = [&](Resolver* r) {
    std::vector<unsigned char> answer(static_cast<size_t>(anslen > 64 ? anslen : 64));
    h_errno = kSentinel;
    errno = kSentinel;
    int rc = r == nullptr ? ::res_send(query, qlen, answer.data(), anslen)
                          : r->res_send(query, qlen, answer.data(), anslen);
    const int error = errno;
    return describe_answer(rc, h_errno, error, answer.data(), anslen, /*mask_id=*/false);
  };
  const std::string native = run(nullptr);
  for (Resolver* r : resolvers(under)) {
    AnsweredBy answered(r, false);
    EXPECT_EQ(native, run(r)) << r->name() << ": " << what;
    answered.check(what);
  }
}

}  // namespace dnstest
