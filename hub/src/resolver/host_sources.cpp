#include "host_sources.hpp"

#include <arpa/nameser.h>
#include <netdb.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dns_answer.hpp"
#include "libc_resolver.hpp"

namespace greenhub::detail {

namespace {

constexpr size_t kInitialBuffer = 1024;  // glibc's scratch_buffer start

void copy_hostent(const hostent& h, HostData* out) {
  out->name = h.h_name != nullptr ? h.h_name : "";
  out->aliases.clear();
  for (char** a = h.h_aliases; a != nullptr && *a != nullptr; ++a) out->aliases.emplace_back(*a);
  out->family = h.h_addrtype;
  out->length = h.h_length;
  out->addresses.clear();
  for (char** a = h.h_addr_list; a != nullptr && *a != nullptr; ++a) {
    std::array<unsigned char, 16> address{};
    std::memcpy(address.data(), *a, static_cast<size_t>(h.h_length) <= 16 ? h.h_length : 16);
    out->addresses.push_back(address);
  }
}

// Calls an NSS "files" function with glibc's buffer-growing protocol.
template <class Call>
NssOutcome call_files(Call&& call) {
  std::vector<char> buffer(kInitialBuffer);
  while (true) {
    int error = 0;
    int herrno = 0;
    nss_status status = call(buffer.data(), buffer.size(), &error, &herrno);
    if (status == NSS_STATUS_TRYAGAIN && error == ERANGE && herrno == NETDB_INTERNAL) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    return NssOutcome{status, herrno, error};
  }
}

NssOutcome files_gethostbyname4(const char* name, std::vector<AddressTuple>* out) {
  const LibcResolver& libc = libc_resolver();
  return call_files([&](char* buffer, size_t length, int* error, int* herrno) {
    gaih_addrtuple* list = nullptr;
    nss_status status =
        libc.files_gethostbyname4_r(name, &list, buffer, length, error, herrno, nullptr);
    out->clear();
    if (status == NSS_STATUS_SUCCESS) {
      for (gaih_addrtuple* t = list; t != nullptr; t = t->next) {
        AddressTuple tuple;
        tuple.family = t->family;
        std::memcpy(tuple.addr.data(), t->addr, sizeof t->addr);
        tuple.scopeid = t->scopeid;
        if (t->name != nullptr) tuple.name = std::string(t->name);
        out->push_back(std::move(tuple));
      }
    }
    return status;
  });
}

NssOutcome files_gethostbyname3(const char* name, int af, HostData* out, std::string* canon) {
  const LibcResolver& libc = libc_resolver();
  return call_files([&](char* buffer, size_t length, int* error, int* herrno) {
    hostent h{};
    char* canonical = nullptr;
    nss_status status = libc.files_gethostbyname3_r(name, af, &h, buffer, length, error, herrno,
                                                    nullptr, &canonical);
    if (status == NSS_STATUS_SUCCESS) {
      copy_hostent(h, out);
      if (canon != nullptr && canonical != nullptr) *canon = canonical;
    }
    return status;
  });
}

NssOutcome files_gethostbyaddr(const void* addr, socklen_t len, int af, HostData* out) {
  const LibcResolver& libc = libc_resolver();
  return call_files([&](char* buffer, size_t length, int* error, int* herrno) {
    hostent h{};
    nss_status status =
        libc.files_gethostbyaddr_r(addr, len, af, &h, buffer, length, error, herrno);
    if (status == NSS_STATUS_SUCCESS) copy_hostent(h, out);
    return status;
  });
}

// nss_dns's handling of a failed search (n < 0).
NssOutcome search_failure(const DnsResult& r) {
  NssOutcome outcome{NSS_STATUS_NOTFOUND, r.herrno, 0};
  switch (r.error >= 0 ? r.error : 0) {
    case ESRCH:
      outcome.status = NSS_STATUS_TRYAGAIN;
      outcome.herrno = TRY_AGAIN;
      h_errno = TRY_AGAIN;
      break;
    case EMFILE:
    case ENFILE:
      outcome.herrno = NETDB_INTERNAL;
      outcome.status = NSS_STATUS_UNAVAIL;
      break;
    case ECONNREFUSED:
    case ETIMEDOUT:
      outcome.status = NSS_STATUS_UNAVAIL;
      break;
    default:
      break;
  }
  // errno: EAGAIN with TRY_AGAIN, else restored to its value on entry.
  outcome.error = outcome.herrno == TRY_AGAIN ? EAGAIN : 0;
  return outcome;
}

}  // namespace

NssOutcome HostSources::gethostbyname4(HostsSource source, const char* name,
                                       std::vector<AddressTuple>* out) {
  if (source == HostsSource::kFiles) return files_gethostbyname4(name, out);

  if (!is_host_name(name)) return NssOutcome{NSS_STATUS_NOTFOUND, HOST_NOT_FOUND, 0};
  out->clear();
  constexpr int kAnswerBuffer = 2048;
  if ((dns_.config().options() & RES_NOAAAA) != 0) {
    DnsResult r = dns_.search(name, ns_c_in, ns_t_a, kAnswerBuffer);
    if (r.length < 0) return search_failure(r);
    return parse_address_answers(r.answer.data(), static_cast<size_t>(r.length), nullptr, 0, out);
  }
  DnsResult r = dns_.search(name, ns_c_in, kQueryAAndAAAA, kAnswerBuffer);
  if (r.length < 0) return search_failure(r);
  return parse_address_answers(r.answer.data(), static_cast<size_t>(r.length), r.answer2.data(),
                               static_cast<size_t>(r.length2), out);
}

NssOutcome HostSources::gethostbyname3(HostsSource source, const char* name, int af,
                                       bool check_name, HostData* out, std::string* canon) {
  if (source == HostsSource::kFiles) return files_gethostbyname3(name, af, out, canon);

  if (check_name && !is_host_name(name)) return NssOutcome{NSS_STATUS_NOTFOUND, HOST_NOT_FOUND, 0};
  int type;
  switch (af) {
    case AF_INET:
      type = ns_t_a;
      break;
    case AF_INET6:
      type = ns_t_aaaa;
      break;
    default:
      return NssOutcome{NSS_STATUS_UNAVAIL, NO_DATA, EAFNOSUPPORT};
  }
  DnsResult r = dns_.search(name, ns_c_in, type, 1024);
  if (r.length < 0) return search_failure(r);
  NssOutcome outcome = parse_host_answer(r.answer.data(), static_cast<size_t>(r.length), type,
                                         dns_.config().sortlist(), out);
  if (outcome.status == NSS_STATUS_SUCCESS && canon != nullptr) *canon = out->name;
  return outcome;
}

NssOutcome HostSources::gethostbyaddr(HostsSource source, const void* addr, socklen_t len, int af,
                                      HostData* out) {
  if (source == HostsSource::kFiles) return files_gethostbyaddr(addr, len, af, out);

  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char kTunnelled[12] = {};
  static const unsigned char kV6Local[4] = {0, 0, 0, 1};
  const auto* uaddr = static_cast<const unsigned char*>(addr);
  if (af == AF_INET6 && len == NS_IN6ADDRSZ &&
      (std::memcmp(uaddr, kMapped, sizeof kMapped) == 0 ||
       (std::memcmp(uaddr, kTunnelled, sizeof kTunnelled) == 0 &&
        std::memcmp(uaddr + 12, kV6Local, sizeof kV6Local) != 0))) {
    uaddr += sizeof kMapped;
    af = AF_INET;
    len = NS_INADDRSZ;
  }
  socklen_t size;
  switch (af) {
    case AF_INET:
      size = NS_INADDRSZ;
      break;
    case AF_INET6:
      size = NS_IN6ADDRSZ;
      break;
    default:
      return NssOutcome{NSS_STATUS_UNAVAIL, NETDB_INTERNAL, EAFNOSUPPORT};
  }
  if (size > len) return NssOutcome{NSS_STATUS_UNAVAIL, NETDB_INTERNAL, EAFNOSUPPORT};

  char qbuf[NS_MAXDNAME + 1];
  if (af == AF_INET) {
    std::snprintf(qbuf, sizeof qbuf, "%u.%u.%u.%u.in-addr.arpa", uaddr[3], uaddr[2], uaddr[1],
                  uaddr[0]);
  } else {
    static const char kNibble[] = "0123456789abcdef";
    char* qp = qbuf;
    for (int n = NS_IN6ADDRSZ - 1; n >= 0; --n) {
      *qp++ = kNibble[uaddr[n] & 0xf];
      *qp++ = '.';
      *qp++ = kNibble[(uaddr[n] >> 4) & 0xf];
      *qp++ = '.';
    }
    std::strcpy(qp, "ip6.arpa");
  }
  DnsResult r = dns_.query(qbuf, ns_c_in, ns_t_ptr, 1024);
  if (r.length < 0) {
    return NssOutcome{r.error == ECONNREFUSED ? NSS_STATUS_UNAVAIL : NSS_STATUS_NOTFOUND, r.herrno,
                      0};
  }
  std::string name;
  NssOutcome outcome = parse_ptr_answer(r.answer.data(), static_cast<size_t>(r.length), &name);
  if (outcome.status != NSS_STATUS_SUCCESS) return outcome;
  out->name = name;
  out->aliases.clear();
  out->family = af;
  out->length = static_cast<int>(len);
  std::array<unsigned char, 16> address{};
  std::memcpy(address.data(), uaddr, len);
  out->addresses.assign(1, address);
  return NssOutcome{NSS_STATUS_SUCCESS, NETDB_SUCCESS, 0};
}

}  // namespace greenhub::detail
