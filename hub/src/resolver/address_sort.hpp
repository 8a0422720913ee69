// The order getaddrinfo gives its answers: glibc's RFC 3484 destination
// address selection (sysdeps/posix/getaddrinfo.c), with the label,
// precedence and IPv4 scope tables of /etc/gai.conf.
//
// How it works
//   For each destination the source address the kernel would pick is found
//   by connecting a UDP socket to it (no packet is sent) and reading
//   getsockname; its flags and prefix length come from the interface list.
//   Then the rules are applied in glibc's order: usable destination,
//   matching scope, deprecated source, home address, matching label,
//   precedence, native transport, smaller scope, longest matching prefix,
//   and finally the order the answers came in. The comparison is glibc's
//   comparator, and the sort is glibc 2.36's qsort (a top-down merge sort):
//   the rules are not a total order, so only the same algorithm with the
//   same comparator gives the same permutation.
//
//   /etc/gai.conf is read once per process (glibc's gaiconf_init), and
//   again before a sort when it changed and "reload yes" was given.
#pragma once

#include <netdb.h>

#include "interfaces.hpp"

namespace greenhub::detail {

// Sorts the list in place (*list is its new head); the canonical name, if
// any, moves to the new first entry.
void sort_addresses_rfc3484(addrinfo** list, const InterfaceInfo& interfaces);

}  // namespace greenhub::detail
