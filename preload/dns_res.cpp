// Green res_query, res_search, res_querydomain, res_send, their res_n*
// forms with an explicit resolver state, and the __res_* names under which
// binaries linked before glibc 2.34 import them (see dns.hpp).
//
// Since glibc 2.34 the resolver lives in libc.so.6: res_query@@GLIBC_2.34
// and the compat __res_query@GLIBC_2.2.5 are the same function, so the
// preload defines both names (its definitions carry no version, which
// satisfies a reference of any version) over one shim each. The calls
// that set up or read the resolver state (res_init, res_ninit, res_nclose,
// __res_state, __h_errno_location) do no I/O and are not interposed.
//
// The non-_n forms use the calling OS thread's _res (a __thread variable of
// glibc: green threads on one hub share it, as they share any __thread
// variable). A thread whose _res the program modified is answered by glibc
// on the calling thread, whichever resolver is chosen (see resolver.hpp).
#include <netinet/in.h>
#include <resolv.h>

#include "dns.hpp"
#include "real.hpp"

using greenhub::Resolver;
using greenhub::preload::green_resolver;

extern "C" {

int res_query(const char* dname, int klass, int type, unsigned char* answer, int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(res_query)(dname, klass, type, answer, anslen);
  return resolver->res_query(dname, klass, type, answer, anslen);
}

int res_search(const char* dname, int klass, int type, unsigned char* answer,
               int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(res_search)(dname, klass, type, answer, anslen);
  return resolver->res_search(dname, klass, type, answer, anslen);
}

int res_querydomain(const char* name, const char* domain, int klass, int type,
                    unsigned char* answer, int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(res_querydomain)(name, domain, klass, type, answer, anslen);
  }
  return resolver->res_querydomain(name, domain, klass, type, answer, anslen);
}

int res_send(const unsigned char* msg, int msglen, unsigned char* answer, int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(res_send)(msg, msglen, answer, anslen);
  return resolver->res_send(msg, msglen, answer, anslen);
}

int res_nquery(res_state statp, const char* dname, int klass, int type, unsigned char* answer,
               int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(res_nquery)(statp, dname, klass, type, answer, anslen);
  }
  return resolver->res_nquery(statp, dname, klass, type, answer, anslen);
}

int res_nsearch(res_state statp, const char* dname, int klass, int type, unsigned char* answer,
                int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(res_nsearch)(statp, dname, klass, type, answer, anslen);
  }
  return resolver->res_nsearch(statp, dname, klass, type, answer, anslen);
}

int res_nquerydomain(res_state statp, const char* name, const char* domain, int klass, int type,
                     unsigned char* answer, int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) {
    return GREENHUB_REAL(res_nquerydomain)(statp, name, domain, klass, type, answer, anslen);
  }
  return resolver->res_nquerydomain(statp, name, domain, klass, type, answer, anslen);
}

int res_nsend(res_state statp, const unsigned char* msg, int msglen, unsigned char* answer,
              int anslen) noexcept {
  Resolver* resolver = green_resolver();
  if (resolver == nullptr) return GREENHUB_REAL(res_nsend)(statp, msg, msglen, answer, anslen);
  return resolver->res_nsend(statp, msg, msglen, answer, anslen);
}

// The pre-2.34 names (compat versions of the same functions).
int __res_query(const char* dname, int klass, int type, unsigned char* answer, int anslen) {
  return res_query(dname, klass, type, answer, anslen);
}

int __res_search(const char* dname, int klass, int type, unsigned char* answer, int anslen) {
  return res_search(dname, klass, type, answer, anslen);
}

int __res_querydomain(const char* name, const char* domain, int klass, int type,
                      unsigned char* answer, int anslen) {
  return res_querydomain(name, domain, klass, type, answer, anslen);
}

int __res_send(const unsigned char* msg, int msglen, unsigned char* answer, int anslen) {
  return res_send(msg, msglen, answer, anslen);
}

int __res_nquery(res_state statp, const char* dname, int klass, int type, unsigned char* answer,
                 int anslen) {
  return res_nquery(statp, dname, klass, type, answer, anslen);
}

int __res_nsearch(res_state statp, const char* dname, int klass, int type, unsigned char* answer,
                  int anslen) {
  return res_nsearch(statp, dname, klass, type, answer, anslen);
}

int __res_nquerydomain(res_state statp, const char* name, const char* domain, int klass,
                       int type, unsigned char* answer, int anslen) {
  return res_nquerydomain(statp, name, domain, klass, type, answer, anslen);
}

int __res_nsend(res_state statp, const unsigned char* msg, int msglen, unsigned char* answer,
                int anslen) {
  return res_nsend(statp, msg, msglen, answer, anslen);
}

}  // extern "C"
