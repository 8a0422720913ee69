// What getaddrinfo asks the kernel about local interfaces, the way glibc
// asks it (sysdeps/unix/sysv/linux/check_pf.c and check_native.c), over
// rtnetlink with raw system calls:
//
//   query_interfaces  (__check_pf) whether a non-loopback IPv4 / IPv6
//                     address exists (AI_ADDRCONFIG), and every address
//                     with its flags, prefix length and interface (RFC 3484
//                     sorting). The address list is kept only when an IPv6
//                     address was seen, as glibc does. If netlink fails,
//                     both families count as present and the list is empty.
//   check_native      (__check_native) whether two interfaces are native
//                     (not IPv6-in-IPv4/IPv6 tunnels), for rule 7.
#pragma once

#include <cstdint>
#include <vector>

namespace greenhub::detail {

enum : uint8_t { kIn6aiDeprecated = 1, kIn6aiHomeAddress = 2 };

struct InterfaceAddress {
  uint32_t addr[4];  // IPv6, or IPv4 mapped (::ffff:a.b.c.d); network order
  uint8_t flags;
  uint8_t prefixlen;
  uint32_t index;
};

struct InterfaceInfo {
  bool seen_ipv4 = true;
  bool seen_ipv6 = true;
  std::vector<InterfaceAddress> addresses;  // sorted by addr (memcmp)
};

InterfaceInfo query_interfaces();

// Sets *a1_native / *a2_native for the interfaces with those indices
// (0xffffffff: none); leaves them alone for interfaces not found.
void check_native(uint32_t a1_index, int* a1_native, uint32_t a2_index, int* a2_native);

}  // namespace greenhub::detail
