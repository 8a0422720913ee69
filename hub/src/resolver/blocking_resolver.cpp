// The blocking resolver: glibc's own functions on the calling thread.
#include "libc_resolver.hpp"
#include "resolvers.hpp"

namespace greenhub::detail {

namespace {

const LibcResolver& counted() {
  resolver_counters().block.fetch_add(1, std::memory_order_relaxed);
  return libc_resolver();
}

}  // namespace

int BlockingResolver::getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                                  addrinfo** res) {
  return counted().getaddrinfo(node, service, hints, res);
}

int BlockingResolver::getnameinfo(const sockaddr* sa, socklen_t salen, char* host,
                                  socklen_t hostlen, char* serv, socklen_t servlen, int flags) {
  return counted().getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

int BlockingResolver::gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                                      hostent** result, int* h_errnop) {
  return counted().gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
}

int BlockingResolver::gethostbyname2_r(const char* name, int af, hostent* ret, char* buf,
                                       size_t buflen, hostent** result, int* h_errnop) {
  return counted().gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
}

int BlockingResolver::gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret,
                                      char* buf, size_t buflen, hostent** result, int* h_errnop) {
  return counted().gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, h_errnop);
}

hostent* BlockingResolver::gethostbyname(const char* name) { return counted().gethostbyname(name); }

hostent* BlockingResolver::gethostbyname2(const char* name, int af) {
  return counted().gethostbyname2(name, af);
}

hostent* BlockingResolver::gethostbyaddr(const void* addr, socklen_t len, int type) {
  return counted().gethostbyaddr(addr, len, type);
}

int BlockingResolver::res_query(const char* dname, int klass, int type, unsigned char* answer,
                                int anslen) {
  return counted().res_query(dname, klass, type, answer, anslen);
}

int BlockingResolver::res_search(const char* dname, int klass, int type, unsigned char* answer,
                                 int anslen) {
  return counted().res_search(dname, klass, type, answer, anslen);
}

int BlockingResolver::res_querydomain(const char* name, const char* domain, int klass, int type,
                                      unsigned char* answer, int anslen) {
  return counted().res_querydomain(name, domain, klass, type, answer, anslen);
}

int BlockingResolver::res_send(const unsigned char* msg, int msglen, unsigned char* answer,
                               int anslen) {
  return counted().res_send(msg, msglen, answer, anslen);
}

int BlockingResolver::res_nquery(res_state statp, const char* dname, int klass, int type,
                                 unsigned char* answer, int anslen) {
  return counted().res_nquery(statp, dname, klass, type, answer, anslen);
}

int BlockingResolver::res_nsearch(res_state statp, const char* dname, int klass, int type,
                                  unsigned char* answer, int anslen) {
  return counted().res_nsearch(statp, dname, klass, type, answer, anslen);
}

int BlockingResolver::res_nquerydomain(res_state statp, const char* name, const char* domain,
                                       int klass, int type, unsigned char* answer, int anslen) {
  return counted().res_nquerydomain(statp, name, domain, klass, type, answer, anslen);
}

int BlockingResolver::res_nsend(res_state statp, const unsigned char* msg, int msglen,
                                unsigned char* answer, int anslen) {
  return counted().res_nsend(statp, msg, msglen, answer, anslen);
}

}  // namespace greenhub::detail
