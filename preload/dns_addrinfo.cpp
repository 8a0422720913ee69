// Green getaddrinfo, freeaddrinfo and getnameinfo (see dns.hpp for which
// resolver answers and why glibc's freeaddrinfo frees every list).
//
// gai_strerror is not interposed: every resolver returns glibc's EAI_*
// codes, which glibc's gai_strerror describes. getaddrinfo_a, gai_suspend,
// gai_error and gai_cancel are not interposed either: glibc runs their
// lookups on threads of its own that call its internal getaddrinfo (they
// never reach the preload and work as without it); gai_suspend waits with
// glibc's internal condition variable, blocking the calling OS thread.
#include <netdb.h>
#include <sys/socket.h>

#include "dns.hpp"
#include "real.hpp"

using greenhub::Resolver;
using greenhub::preload::green_resolver;

extern "C" {

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** res) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(getaddrinfo)(node, service, hints, res);
  return resolver->getaddrinfo(node, service, hints, res);
}

// Every list, whichever resolver made it, is glibc's to free.
void freeaddrinfo(struct addrinfo* res) noexcept { GREENHUB_REAL(freeaddrinfo)(res); }

int getnameinfo(const struct sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                char* serv, socklen_t servlen, int flags) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
  }
  return resolver->getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

}  // extern "C"
