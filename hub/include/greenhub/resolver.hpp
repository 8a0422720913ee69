// Green name resolution: glibc's lookup functions — getaddrinfo,
// getnameinfo, gethostbyname(2)(_r), gethostbyaddr(_r), res_query,
// res_search, res_querydomain, res_send and their res_n* forms — with the
// same arguments, results, structures and error codes (EAI_*, h_errno,
// errno), where a lookup waits on the hub instead of blocking its thread.
//
//   addrinfo* list;
//   int rc = greenhub::getaddrinfo("example.com", "https", &hints, &list);
//   ...                                    // other greenlets ran meanwhile
//   greenhub::freeaddrinfo(list);          // or glibc's freeaddrinfo
//
// The contract: the answer equals what glibc would give on this system at
// this moment, order included. Three resolvers keep it:
//
//   ares    (asynchronous) glibc's lookup logic rebuilt on c-ares, driven
//           by the hub's libev loop: each lookup is a hub wait, thousands
//           run at once on one OS thread. It reads /etc/resolv.conf (through
//           glibc's res_ninit), /etc/hosts (through glibc's own files
//           backend), /etc/services, /etc/gai.conf and the interface list,
//           and follows glibc 2.36's steps: search list and ndots, timeouts
//           and attempts per server, A and AAAA together, CNAME chains and
//           owner checks, AI_ADDRCONFIG, AI_V4MAPPED/AI_ALL, AI_CANONNAME,
//           AI_PASSIVE, AI_NUMERICHOST/SERV, RFC 3484 sorting. It answers
//           only where it reproduces glibc: when the hosts line of
//           /etc/nsswitch.conf is made of `files` and `dns` alone (no
//           actions), nscd is not running, host.conf neither reorders nor
//           trims, HOSTALIASES is unset, resolv.conf has no "inet6" option
//           and at most MAXDNSRCH search domains, and the lookup does not
//           ask for IDN. Anything else goes to the thread resolver.
//   thread  glibc's own function, run on ThreadPool::default_pool() while
//           the calling greenlet waits on its hub. Its concurrency is the
//           pool's size (GREENHUB_THREADPOOL_SIZE, default 10): the
//           (size + 1)th simultaneous lookup queues until a worker is free.
//   block   glibc's own function on the calling thread (the hub stalls).
//
// GREENHUB_RESOLVER=ares|thread|block chooses the default resolver (the one
// the free functions below use); unset, it is `ares`, which is the
// automatic choice (ares where it reproduces glibc, thread elsewhere). A
// program that modified its thread's resolver state (_res) is answered by
// `block` on that thread from any resolver, since only glibc on that
// thread sees the modification.
//
// Waiting: a lookup may raise the waiting greenlet's pending exception
// (Timeout, GreenletExit) like any wait; the lookup is then abandoned
// (its queries' late answers are dropped; a thread-resolver job finishes
// on its worker and its result is freed).
//
// Results: addrinfo lists are allocated as glibc allocates them, so
// glibc's freeaddrinfo and greenhub::freeaddrinfo both free any list.
// gethostbyname, gethostbyname2 and gethostbyaddr return storage that is
// per OS thread and valid until the next such call on that thread (glibc's
// is per process); they set h_errno like glibc's.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

// glibc's resolver state (<resolv.h>), named without that header's macros.
struct __res_state;

namespace greenhub {

enum class ResolverKind : uint8_t { kAres, kThread, kBlock };

class Resolver {
 public:
  virtual ~Resolver() = default;

  // The asynchronous, thread and blocking resolvers (process-wide objects;
  // each call runs on the calling greenlet's hub).
  static Resolver& ares();
  static Resolver& thread();
  static Resolver& blocking();
  // The default: GREENHUB_RESOLVER, else ares().
  static Resolver& get();

  virtual ResolverKind kind() const = 0;
  virtual const char* name() const = 0;

  virtual int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                          addrinfo** res) = 0;
  virtual int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                          char* serv, socklen_t servlen, int flags) = 0;

  virtual int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                              hostent** result, int* h_errnop) = 0;
  virtual int gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,
                               hostent** result, int* h_errnop) = 0;
  virtual int gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret, char* buf,
                              size_t buflen, hostent** result, int* h_errnop) = 0;
  virtual hostent* gethostbyname(const char* name);
  virtual hostent* gethostbyname2(const char* name, int af);
  virtual hostent* gethostbyaddr(const void* addr, socklen_t len, int type);

  // With the calling thread's resolver state (_res).
  virtual int res_query(const char* dname, int klass, int type, unsigned char* answer,
                        int anslen) = 0;
  virtual int res_search(const char* dname, int klass, int type, unsigned char* answer,
                         int anslen) = 0;
  virtual int res_querydomain(const char* name, const char* domain, int klass, int type,
                              unsigned char* answer, int anslen) = 0;
  virtual int res_send(const unsigned char* msg, int msglen, unsigned char* answer, int anslen) = 0;
  // With an explicit state (initialized with res_ninit). On the thread
  // resolver the state is used on the worker: it must outlive the call
  // even if the waiting greenlet is killed.
  virtual int res_nquery(struct __res_state* statp, const char* dname, int klass, int type,
                         unsigned char* answer, int anslen) = 0;
  virtual int res_nsearch(struct __res_state* statp, const char* dname, int klass, int type,
                          unsigned char* answer, int anslen) = 0;
  virtual int res_nquerydomain(struct __res_state* statp, const char* name, const char* domain,
                               int klass, int type, unsigned char* answer, int anslen) = 0;
  virtual int res_nsend(struct __res_state* statp, const unsigned char* msg, int msglen,
                        unsigned char* answer, int anslen) = 0;
};

// The default resolver's kind (GREENHUB_RESOLVER, read once).
ResolverKind default_resolver_kind();

// Why the asynchronous resolver sends lookups to the thread resolver on
// this thread now, or nullptr when it answers them itself (getaddrinfo
// flags aside).
const char* ares_fallback_reason();

// How many lookups the thread resolver runs at once: the size of
// ThreadPool::default_pool().
size_t thread_resolver_concurrency();

// How many lookups each resolver answered, process-wide (a lookup the
// asynchronous resolver hands to another counts there, and in fallbacks).
struct ResolverStats {
  uint64_t ares = 0;
  uint64_t thread = 0;
  uint64_t block = 0;
  uint64_t ares_fallbacks = 0;
};
ResolverStats resolver_stats();

// glibc's functions on the default resolver (Resolver::get()).
int getaddrinfo(const char* node, const char* service, const addrinfo* hints, addrinfo** res);
void freeaddrinfo(addrinfo* res);
const char* gai_strerror(int errcode);
int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
                socklen_t servlen, int flags);
hostent* gethostbyname(const char* name);
hostent* gethostbyname2(const char* name, int af);
hostent* gethostbyaddr(const void* addr, socklen_t len, int type);
int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen, hostent** result,
                    int* h_errnop);
int gethostbyname2_r(const char* name, int af, hostent* ret, char* buf, size_t buflen,
                     hostent** result, int* h_errnop);
int gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret, char* buf,
                    size_t buflen, hostent** result, int* h_errnop);
int res_query(const char* dname, int klass, int type, unsigned char* answer, int anslen);
int res_search(const char* dname, int klass, int type, unsigned char* answer, int anslen);
int res_querydomain(const char* name, const char* domain, int klass, int type,
                    unsigned char* answer, int anslen);
int res_send(const unsigned char* msg, int msglen, unsigned char* answer, int anslen);
int res_nquery(struct __res_state* statp, const char* dname, int klass, int type,
               unsigned char* answer, int anslen);
int res_nsearch(struct __res_state* statp, const char* dname, int klass, int type,
                unsigned char* answer, int anslen);
int res_nquerydomain(struct __res_state* statp, const char* name, const char* domain, int klass,
                     int type, unsigned char* answer, int anslen);
int res_nsend(struct __res_state* statp, const unsigned char* msg, int msglen,
              unsigned char* answer, int anslen);

}  // namespace greenhub
