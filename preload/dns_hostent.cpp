// Green gethostbyname, gethostbyname2, gethostbyaddr and their _r forms
// (see dns.hpp). The non-reentrant forms return the resolver's storage:
// per OS thread and valid until the next such call on that thread, where
// glibc's is per process; a program can tell only by comparing pointers
// across threads. h_errno is set as glibc sets it (only on failure).
#include <netdb.h>
#include <sys/socket.h>

#include "dns.hpp"
#include "real.hpp"

using greenhub::Resolver;
using greenhub::preload::green_resolver;

extern "C" {

struct hostent* gethostbyname(const char* name) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(gethostbyname)(name);
  return resolver->gethostbyname(name);
}

struct hostent* gethostbyname2(const char* name, int af) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(gethostbyname2)(name, af);
  return resolver->gethostbyname2(name, af);
}

struct hostent* gethostbyaddr(const void* addr, socklen_t len, int type) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(gethostbyaddr)(addr, len, type);
  return resolver->gethostbyaddr(addr, len, type);
}

int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen,
                    struct hostent** result, int* h_errnop) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
  }
  return resolver->gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

int gethostbyname2_r(const char* name, int af, struct hostent* ret, char* buf, size_t buflen,
                     struct hostent** result, int* h_errnop) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);
  }
  return resolver->gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

int gethostbyaddr_r(const void* addr, socklen_t len, int type, struct hostent* ret, char* buf,
                    size_t buflen, struct hostent** result, int* h_errnop) {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, h_errnop);
  }
  return resolver->gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h_errnop);
}

}  // extern "C"
