// Differential checks: one lookup through glibc, then through each green
// resolver, in the same process and namespace, results compared in full.
//
// glibc runs first, on the test's own thread: that also brings the
// thread's _res up to date with the current resolv.conf, which greenhub
// checks to know that the program did not modify it. The asynchronous
// resolver must answer itself (its statistics are checked), so that a
// silent fallback to glibc cannot make a comparison pass.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "greenhub/resolver.hpp"

namespace dnstest {

// Which green resolvers a check runs: asynchronous, thread, or both.
enum class Under { kBoth, kAres, kThread };

struct GaiCase {
  const char* node;
  const char* service = nullptr;
  bool null_hints = false;
  int family = AF_UNSPEC;
  int socktype = 0;
  int protocol = 0;
  int flags = 0;
  // The asynchronous resolver hands this lookup to the thread resolver.
  bool ares_falls_back = false;
};

std::string label(const GaiCase& c);

// getaddrinfo: glibc, then greenhub; EXPECTs equal descriptions.
void expect_same_getaddrinfo(const GaiCase& c, Under under = Under::kBoth);

// gethostbyname2_r (af) / gethostbyname_r (af < 0), and the non-reentrant
// forms; buflen is the reentrant buffer size.
void expect_same_gethostbyname(const char* name, int af, size_t buflen = 4096,
                               Under under = Under::kBoth);
void expect_same_gethostbyaddr(const void* addr, socklen_t len, int af, size_t buflen = 4096,
                               Under under = Under::kBoth);
void expect_same_getnameinfo(const sockaddr* sa, socklen_t salen, socklen_t hostlen,
                             socklen_t servlen, int flags, Under under = Under::kBoth);

enum class ResCall { kQuery, kSearch, kQuerydomain };
void expect_same_res(ResCall call, const char* name, const char* domain, int type,
                     int anslen = 4096, Under under = Under::kBoth);
void expect_same_res_send(const char* name, int type, int anslen = 4096,
                          Under under = Under::kBoth);

}  // namespace dnstest
