// The thread resolver: glibc's own function on ThreadPool::default_pool(),
// the calling greenlet waiting on its hub.
//
// How it works
//   Each call copies its inputs into the job (a killed greenlet's stack
//   may be gone while the worker still runs) and gives the worker its own
//   output buffers of the caller's sizes: a hostent buffer is allocated at
//   the same offset from a 16-byte boundary as the caller's, so glibc lays
//   it out identically, and is copied back with its pointers relocated;
//   getnameinfo's and res_*'s buffers start as copies of the caller's and
//   are copied back whole. The worker starts with the caller's errno and
//   h_errno, and the caller gets the worker's back on return, so that
//   glibc's side effects on both are the caller's, as if it ran there. A result nobody waits for
//   any more (killed greenlet) is freed with the job.
//
//   Concurrency is the pool's size: ThreadPool::default_pool() runs that
//   many lookups at once, the others queue.
#include <arpa/nameser.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "greenhub/threadpool.hpp"
#include "libc_resolver.hpp"
#include "resolvers.hpp"

namespace greenhub::detail {

namespace {

constexpr size_t kAlignment = 16;
// The largest hostent buffer given to a worker: a result needing more than
// this gets ERANGE (glibc would fill a larger caller buffer).
constexpr size_t kMaxHostentBuffer = 1 << 20;

std::optional<std::string> copy_of(const char* s) {
  return s != nullptr ? std::optional<std::string>(s) : std::nullopt;
}

const char* c_str(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

// errno and h_errno of the worker, to hand to the caller.
struct Errors {
  int error = 0;
  int herrno = 0;
  static Errors capture() { return Errors{errno, h_errno}; }
  void restore() const {
    errno = error;
    h_errno = herrno;
  }
};

// A getaddrinfo result owned until the caller takes it.
struct AddrinfoResult {
  int rc = 0;
  addrinfo* list = nullptr;
  Errors errors;

  AddrinfoResult() = default;
  AddrinfoResult(AddrinfoResult&& o) noexcept
      : rc(o.rc), list(std::exchange(o.list, nullptr)), errors(o.errors) {}
  AddrinfoResult& operator=(AddrinfoResult&&) = delete;
  ~AddrinfoResult() {
    if (list != nullptr) libc_resolver().freeaddrinfo(list);
  }
};

// A buffer of `size` bytes starting `offset` bytes past a 16-byte boundary.
class OffsetBuffer {
 public:
  OffsetBuffer(size_t size, size_t offset)
      : storage_(static_cast<char*>(std::aligned_alloc(kAlignment, round_up(size + offset)))),
        data_(storage_ + offset),
        size_(size) {}
  OffsetBuffer(OffsetBuffer&& o) noexcept
      : storage_(std::exchange(o.storage_, nullptr)), data_(o.data_), size_(o.size_) {}
  OffsetBuffer& operator=(OffsetBuffer&&) = delete;
  ~OffsetBuffer() { std::free(storage_); }
  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  static size_t round_up(size_t n) { return (n + kAlignment) / kAlignment * kAlignment; }
  char* storage_;
  char* data_;
  size_t size_;
};

struct HostentResult {
  int rc = 0;
  int herrno = 0;
  bool found = false;
  hostent entry{};
  OffsetBuffer buffer;
  Errors errors;
};

// Moves a hostent whose pointers point into `from` to the caller's buffer.
void relocate_hostent(const HostentResult& r, hostent* ret, char* buf) {
  const char* base = r.buffer.data();
  const size_t size = r.buffer.size();
  auto move = [&](auto* p) -> decltype(p) {
    auto* c = reinterpret_cast<const char*>(p);
    if (c == nullptr || c < base || c >= base + size) return p;
    return reinterpret_cast<decltype(p)>(buf + (c - base));
  };
  if (size > 0) std::memcpy(buf, base, size);
  ret->h_name = move(r.entry.h_name);
  ret->h_addrtype = r.entry.h_addrtype;
  ret->h_length = r.entry.h_length;
  ret->h_aliases = move(r.entry.h_aliases);
  ret->h_addr_list = move(r.entry.h_addr_list);
  for (char** a = ret->h_aliases; a != nullptr && *a != nullptr; ++a) *a = move(*a);
  for (char** a = ret->h_addr_list; a != nullptr && *a != nullptr; ++a) *a = move(*a);
}

int deliver_hostent(HostentResult r, hostent* ret, char* buf, hostent** result, int* h_errnop) {
  *h_errnop = r.herrno;
  *result = nullptr;
  if (r.found) {
    relocate_hostent(r, ret, buf);
    *result = ret;
  }
  r.errors.restore();
  return r.rc;
}

template <class Lookup>
int hostent_job(char* buf, size_t buflen, hostent* ret, hostent** result, int* h_errnop,
                Lookup lookup) {
  const size_t offset = reinterpret_cast<uintptr_t>(buf) % kAlignment;
  buflen = std::min(buflen, kMaxHostentBuffer);
  const Errors before = Errors::capture();
  const int herrno_before = *h_errnop;  // glibc leaves it alone on some paths
  HostentResult r = ThreadPool::default_pool().apply([buflen, offset, lookup, before,
                                                      herrno_before]() mutable {
    before.restore();
    HostentResult out{0, herrno_before, false, hostent{}, OffsetBuffer(buflen, offset), Errors{}};
    hostent* found = nullptr;
    out.rc = lookup(&out.entry, out.buffer.data(), buflen, &found, &out.herrno);
    out.found = found != nullptr;
    out.errors = Errors::capture();
    return out;
  });
  return deliver_hostent(std::move(r), ret, buf, result, h_errnop);
}

struct AnswerResult {
  int rc = 0;
  std::vector<unsigned char> answer;
  Errors errors;
};

template <class Lookup>
int answer_job(unsigned char* answer, int anslen, Lookup lookup) {
  const size_t size = anslen > 0 && answer != nullptr ? static_cast<size_t>(anslen) : 0;
  // glibc writes the header's rcode before it checks the size: the worker's
  // buffer has room for a header whatever anslen says.
  std::vector<unsigned char> initial(std::max<size_t>(size, HFIXEDSZ), 0);
  if (size > 0) std::memcpy(initial.data(), answer, size);
  const Errors before = Errors::capture();
  AnswerResult r = ThreadPool::default_pool().apply(
      [initial = std::move(initial), anslen, lookup, before]() mutable {
        before.restore();
        AnswerResult out;
        out.answer = std::move(initial);
        out.rc = lookup(out.answer.data(), anslen);
        out.errors = Errors::capture();
        return out;
      });
  if (size > 0) std::memcpy(answer, r.answer.data(), size);
  r.errors.restore();
  return r.rc;
}

bool to_blocking() {
  if (!caller_resolver_state_modified()) {
    resolver_counters().thread.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace

int ThreadResolver::getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                                addrinfo** res) {
  if (to_blocking()) return Resolver::blocking().getaddrinfo(node, service, hints, res);
  std::optional<addrinfo> h;
  if (hints != nullptr) {
    h = *hints;
    h->ai_addr = nullptr;
    h->ai_canonname = nullptr;
    h->ai_next = nullptr;
  }
  const Errors before = Errors::capture();
  AddrinfoResult r =
      ThreadPool::default_pool().apply([n = copy_of(node), s = copy_of(service), h, before]() {
        before.restore();
        AddrinfoResult out;
        out.rc = libc_resolver().getaddrinfo(c_str(n), c_str(s), h ? &*h : nullptr, &out.list);
        out.errors = Errors::capture();
        return out;
      });
  r.errors.restore();
  if (r.rc == 0) *res = std::exchange(r.list, nullptr);
  return r.rc;
}

int ThreadResolver::getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                                char* serv, socklen_t servlen, int flags) {
  if (to_blocking()) {
    return Resolver::blocking().getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  }
  struct Result {
    int rc = 0;
    std::vector<char> host;
    std::vector<char> serv;
    Errors errors;
  };
  std::optional<std::vector<char>> address;
  if (sa != nullptr) {
    address.emplace(reinterpret_cast<const char*>(sa), reinterpret_cast<const char*>(sa) + salen);
  }
  std::vector<char> host_in =
      host != nullptr ? std::vector<char>(host, host + hostlen) : std::vector<char>();
  std::vector<char> serv_in =
      serv != nullptr ? std::vector<char>(serv, serv + servlen) : std::vector<char>();
  const bool has_host = host != nullptr;
  const bool has_serv = serv != nullptr;
  const Errors before = Errors::capture();
  Result r = ThreadPool::default_pool().apply(
      [address = std::move(address), salen, host_in = std::move(host_in), hostlen,
       serv_in = std::move(serv_in), servlen, has_host, has_serv, flags, before]() mutable {
        before.restore();
        Result out;
        out.host = std::move(host_in);
        out.serv = std::move(serv_in);
        // A sockaddr copy keeps its alignment requirements in the worker.
        sockaddr_storage storage{};
        const sockaddr* sa_copy = nullptr;
        if (address) {
          std::memcpy(&storage, address->data(), std::min(address->size(), sizeof storage));
          sa_copy = address->size() <= sizeof storage
                        ? reinterpret_cast<const sockaddr*>(&storage)
                        : reinterpret_cast<const sockaddr*>(address->data());
        }
        out.rc = libc_resolver().getnameinfo(sa_copy, salen, has_host ? out.host.data() : nullptr,
                                             hostlen, has_serv ? out.serv.data() : nullptr, servlen,
                                             flags);
        out.errors = Errors::capture();
        return out;
      });
  if (has_host && hostlen > 0) std::memcpy(host, r.host.data(), hostlen);
  if (has_serv && servlen > 0) std::memcpy(serv, r.serv.data(), servlen);
  r.errors.restore();
  return r.rc;
}

int ThreadResolver::gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                                    hostent** result, int* h_errnop) {
  if (to_blocking()) {
    return Resolver::blocking().gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
  }
  return hostent_job(buf, buflen, ret, result, h_errnop,
                     [n = copy_of(name)](hostent* e, char* b, size_t l, hostent** r, int* h) {
                       return libc_resolver().gethostbyname_r(c_str(n), e, b, l, r, h);
                     });
}

int ThreadResolver::gethostbyname2_r(const char* name, int af, hostent* ret, char* buf,
                                     size_t buflen, hostent** result, int* h_errnop) {
  if (to_blocking()) {
    return Resolver::blocking().gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
  }
  return hostent_job(buf, buflen, ret, result, h_errnop,
                     [n = copy_of(name), af](hostent* e, char* b, size_t l, hostent** r, int* h) {
                       return libc_resolver().gethostbyname2_r(c_str(n), af, e, b, l, r, h);
                     });
}

int ThreadResolver::gethostbyaddr_r(const void* addr, socklen_t len, int type, hostent* ret,
                                    char* buf, size_t buflen, hostent** result, int* h_errnop) {
  if (to_blocking()) {
    return Resolver::blocking().gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
                                                h_errnop);
  }
  if (len == sizeof(in6_addr) && std::memcmp(&in6addr_any, addr, sizeof(in6_addr)) == 0) {
    // glibc answers :: at once, but leaks the thread's resolver context
    // doing so (that thread never reloads resolv.conf again): answered
    // here, so that no worker is left with a frozen configuration.
    *h_errnop = HOST_NOT_FOUND;
    *result = nullptr;
    return ENOENT;
  }
  std::vector<char> address(static_cast<const char*>(addr), static_cast<const char*>(addr) + len);
  return hostent_job(buf, buflen, ret, result, h_errnop,
                     [address = std::move(address), len, type](hostent* e, char* b, size_t l,
                                                               hostent** r, int* h) {
                       // Aligned like any in_addr / in6_addr argument.
                       alignas(16) char copy[sizeof(in6_addr)] = {};
                       std::memcpy(copy, address.data(), std::min(address.size(), sizeof copy));
                       const void* a = address.size() <= sizeof copy ? copy : address.data();
                       return libc_resolver().gethostbyaddr_r(a, len, type, e, b, l, r, h);
                     });
}

int ThreadResolver::res_query(const char* dname, int klass, int type, unsigned char* answer,
                              int anslen) {
  if (to_blocking()) return Resolver::blocking().res_query(dname, klass, type, answer, anslen);
  return answer_job(answer, anslen, [n = copy_of(dname), klass, type](unsigned char* a, int l) {
    return libc_resolver().res_query(c_str(n), klass, type, a, l);
  });
}

int ThreadResolver::res_search(const char* dname, int klass, int type, unsigned char* answer,
                               int anslen) {
  if (to_blocking()) return Resolver::blocking().res_search(dname, klass, type, answer, anslen);
  return answer_job(answer, anslen, [n = copy_of(dname), klass, type](unsigned char* a, int l) {
    return libc_resolver().res_search(c_str(n), klass, type, a, l);
  });
}

int ThreadResolver::res_querydomain(const char* name, const char* domain, int klass, int type,
                                    unsigned char* answer, int anslen) {
  if (to_blocking()) {
    return Resolver::blocking().res_querydomain(name, domain, klass, type, answer, anslen);
  }
  return answer_job(answer, anslen,
                    [n = copy_of(name), d = copy_of(domain), klass, type](unsigned char* a, int l) {
                      return libc_resolver().res_querydomain(c_str(n), c_str(d), klass, type, a, l);
                    });
}

int ThreadResolver::res_send(const unsigned char* msg, int msglen, unsigned char* answer,
                             int anslen) {
  if (to_blocking()) return Resolver::blocking().res_send(msg, msglen, answer, anslen);
  std::vector<unsigned char> message;
  if (msg != nullptr && msglen > 0) message.assign(msg, msg + msglen);
  const bool null_message = msg == nullptr;
  return answer_job(answer, anslen,
                    [message = std::move(message), msglen, null_message](unsigned char* a, int l) {
                      return libc_resolver().res_send(null_message ? nullptr : message.data(),
                                                      msglen, a, l);
                    });
}

int ThreadResolver::res_nquery(res_state statp, const char* dname, int klass, int type,
                               unsigned char* answer, int anslen) {
  resolver_counters().thread.fetch_add(1, std::memory_order_relaxed);
  return answer_job(answer, anslen,
                    [statp, n = copy_of(dname), klass, type](unsigned char* a, int l) {
                      return libc_resolver().res_nquery(statp, c_str(n), klass, type, a, l);
                    });
}

int ThreadResolver::res_nsearch(res_state statp, const char* dname, int klass, int type,
                                unsigned char* answer, int anslen) {
  resolver_counters().thread.fetch_add(1, std::memory_order_relaxed);
  return answer_job(answer, anslen,
                    [statp, n = copy_of(dname), klass, type](unsigned char* a, int l) {
                      return libc_resolver().res_nsearch(statp, c_str(n), klass, type, a, l);
                    });
}

int ThreadResolver::res_nquerydomain(res_state statp, const char* name, const char* domain,
                                     int klass, int type, unsigned char* answer, int anslen) {
  resolver_counters().thread.fetch_add(1, std::memory_order_relaxed);
  return answer_job(
      answer, anslen,
      [statp, n = copy_of(name), d = copy_of(domain), klass, type](unsigned char* a, int l) {
        return libc_resolver().res_nquerydomain(statp, c_str(n), c_str(d), klass, type, a, l);
      });
}

int ThreadResolver::res_nsend(res_state statp, const unsigned char* msg, int msglen,
                              unsigned char* answer, int anslen) {
  resolver_counters().thread.fetch_add(1, std::memory_order_relaxed);
  std::vector<unsigned char> message;
  if (msg != nullptr && msglen > 0) message.assign(msg, msg + msglen);
  const bool null_message = msg == nullptr;
  return answer_job(
      answer, anslen,
      [statp, message = std::move(message), msglen, null_message](unsigned char* a, int l) {
        return libc_resolver().res_nsend(statp, null_message ? nullptr : message.data(), msglen, a,
                                         l);
      });
}

}  // namespace greenhub::detail
