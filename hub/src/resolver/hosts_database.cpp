#include "hosts_database.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "alloc_buffer.hpp"
#include "libc_resolver.hpp"

namespace greenhub::detail {

bool pack_dns_hostent(const HostData& data, hostent* ret, char* buf, size_t buflen) {
  // nss_dns's gethostbyname3: names and addresses in answer order, then the
  // address list and the alias list (the chain's last name is h_name).
  AllocBuffer abuf(buf, buflen);
  std::vector<const std::string*> names;
  for (const auto& a : data.aliases) names.push_back(&a);
  names.push_back(&data.name);
  std::vector<char*> name_at(names.size(), nullptr);
  std::vector<char*> address_at(data.addresses.size(), nullptr);
  for (const HostData::Allocation& a : data.layout) {
    if (a.is_address) {
      address_at[a.index] = abuf.next(alignof(uint32_t));
      abuf.copy_bytes(data.addresses[a.index].data(), static_cast<size_t>(data.length));
    } else {
      name_at[a.index] = abuf.copy_string(names[a.index]->c_str());
    }
  }
  auto** addr_list = abuf.alloc_array<char*>(data.addresses.size() + 1);
  auto** alias_list = abuf.alloc_array<char*>(names.size());
  if (abuf.failed()) return false;
  for (size_t i = 0; i < address_at.size(); ++i) addr_list[i] = address_at[i];
  addr_list[address_at.size()] = nullptr;
  for (size_t i = 0; i + 1 < names.size(); ++i) alias_list[i] = name_at[i];
  alias_list[names.size() - 1] = nullptr;
  ret->h_name = name_at.back();
  ret->h_aliases = alias_list;
  ret->h_addrtype = data.family;
  ret->h_length = data.length;
  ret->h_addr_list = addr_list;
  return true;
}

bool pack_dns_address_hostent(const HostData& data, hostent* ret, char* buf, size_t buflen) {
  // nss_dns's gethostbyaddr2: the two-entry pointer array first, then the
  // name, then the address.
  AllocBuffer abuf(buf, buflen);
  auto** address_array = abuf.alloc_array<char*>(2);
  char* name = abuf.copy_string(data.name.c_str());
  char* address = abuf.next(alignof(uint32_t));
  abuf.copy_bytes(data.addresses.at(0).data(), static_cast<size_t>(data.length));
  if (abuf.failed()) return false;
  address_array[0] = address;
  address_array[1] = nullptr;
  ret->h_name = name;
  ret->h_aliases = &address_array[1];
  ret->h_addrtype = data.family;
  ret->h_length = data.length;
  ret->h_addr_list = address_array;
  return true;
}

namespace {

bool buffer_too_small(nss_status status, const int* h_errnop) {
  return status == NSS_STATUS_TRYAGAIN && *h_errnop == NETDB_INTERNAL && errno == ERANGE;
}

// Calls the dns source keeping errno as nss_dns leaves it (our own waits
// and system calls in between do not count).
template <class Lookup>
NssOutcome call_dns(int* h_errnop, Lookup&& lookup) {
  const int saved = errno;
  NssOutcome outcome = lookup();
  errno = outcome.error != 0 ? outcome.error : saved;
  *h_errnop = outcome.herrno;
  return outcome;
}

void give_erange(nss_status* status, int* h_errnop) {
  *status = NSS_STATUS_TRYAGAIN;
  *h_errnop = NETDB_INTERNAL;
  errno = ERANGE;
}

}  // namespace

int HostsDatabase::finish(nss_status status, hostent* ret, hostent** result, int* h_errnop) {
  *result = status == NSS_STATUS_SUCCESS ? ret : nullptr;
  int res;
  if (status == NSS_STATUS_SUCCESS || status == NSS_STATUS_NOTFOUND) {
    res = 0;
  } else if (errno == ERANGE && status != NSS_STATUS_TRYAGAIN) {
    res = EINVAL;
  } else if (status == NSS_STATUS_TRYAGAIN && *h_errnop != NETDB_INTERNAL) {
    res = EAGAIN;
  } else {
    return errno;
  }
  errno = res;
  return res;
}

int HostsDatabase::gethostbyname2_r(const char* name, int af, hostent* ret, char* buf,
                                    size_t buflen, hostent** result, int* h_errnop) {
  nss_status status = NSS_STATUS_UNAVAIL;
  char* buffer = buf;
  *result = nullptr;
  switch (libc_resolver().hostname_digits_dots(name, ret, &buffer, nullptr, buflen, result, &status,
                                               af, h_errnop)) {
    case -1:
      return errno;
    case 1:
      return finish(status, ret, result, h_errnop);
    default:
      break;
  }
  const LibcResolver& libc = libc_resolver();
  for (HostsSource source : hosts_.sources()) {
    if (source == HostsSource::kFiles) {
      status = libc.files_gethostbyname3_r(name, af, ret, buf, buflen, &errno, h_errnop, nullptr,
                                           nullptr);
    } else {
      HostData data;
      status = call_dns(h_errnop, [&] {
                 return sources_.gethostbyname3(HostsSource::kDns, name, af,
                                                /*check_name=*/true, &data, nullptr);
               }).status;
      if (status == NSS_STATUS_SUCCESS && !pack_dns_hostent(data, ret, buf, buflen)) {
        give_erange(&status, h_errnop);
      }
    }
    // A buffer too small goes back to the caller, whatever the actions say.
    if (buffer_too_small(status, h_errnop) || status == NSS_STATUS_SUCCESS) break;
  }
  return finish(status, ret, result, h_errnop);
}

int HostsDatabase::gethostbyaddr_r(const void* addr, socklen_t len, int af, hostent* ret, char* buf,
                                   size_t buflen, hostent** result, int* h_errnop) {
  if (len == sizeof(in6_addr) && std::memcmp(&in6addr_any, addr, sizeof(in6_addr)) == 0) {
    // glibc's PREPROCESS for gethostbyaddr_r.
    *h_errnop = HOST_NOT_FOUND;
    *result = nullptr;
    return ENOENT;
  }
  nss_status status = NSS_STATUS_UNAVAIL;
  const LibcResolver& libc = libc_resolver();
  for (HostsSource source : hosts_.sources()) {
    if (source == HostsSource::kFiles) {
      status = libc.files_gethostbyaddr_r(addr, len, af, ret, buf, buflen, &errno, h_errnop);
    } else {
      HostData data;
      status = call_dns(h_errnop, [&] {
                 return sources_.gethostbyaddr(HostsSource::kDns, addr, len, af, &data);
               }).status;
      if (status == NSS_STATUS_SUCCESS && !pack_dns_address_hostent(data, ret, buf, buflen)) {
        give_erange(&status, h_errnop);
      }
    }
    if (buffer_too_small(status, h_errnop) || status == NSS_STATUS_SUCCESS) break;
  }
  return finish(status, ret, result, h_errnop);
}

}  // namespace greenhub::detail
