// Green DNS: which resolver answers a lookup made by the program.
//
// How it works
//   glibc runs a lookup's whole exchange (socket, sendmmsg, poll up to the
//   resolv.conf timeout, recvfrom) on internal calls no interposer sees, so
//   DNS is made green at the level of the lookup functions themselves
//   (dns_addrinfo.cpp, dns_hostent.cpp, dns_res.cpp). Each shim asks
//   green_resolver():
//
//     - nullptr: the caller may not park (not a green thread or main(): a
//       thread libc or the runtime made, a hub's loop, before start-up):
//       glibc's own function, GREENHUB_REAL(name), exactly as without the
//       preload;
//     - else hub/'s greenhub::Resolver::get() (GREENHUB_RESOLVER): `ares`
//       (default: c-ares on the caller's hub where it reproduces glibc, the
//       thread resolver elsewhere), `thread` (glibc's function on the hub's
//       ThreadPool, the caller parked meanwhile) or `block` (glibc's function
//       on the calling thread: the hub stalls for the lookup's duration).
//
//   Every resolver returns what glibc returns: the value, the EAI_* code,
//   errno and h_errno (h_errno is glibc's, per OS thread like any __thread
//   variable: it is set when the lookup returns, so a green thread that
//   reads it right after its call reads its own).
//
// Cancellation: a green lookup is not a cancellation point (POSIX lets
// these functions be or not be one; glibc's become one only where their
// exchange happens to reach an internal poll or open): a cancellation
// requested while a lookup waits is acted on at the thread's next
// cancellation point, after the lookup returns.
//
// Results: the asynchronous resolver allocates an addrinfo list as glibc
// does (one malloc block per node holding the node and its address, the
// canonical name in its own malloc block), and the thread resolver returns
// glibc's own list. So freeaddrinfo is glibc's for every list: the
// preload's freeaddrinfo forwards to it, and a program that frees a list
// with glibc's function reached another way (dlsym(RTLD_NEXT), a statically
// captured pointer) frees it correctly too.
#pragma once

#include "greenhub/resolver.hpp"

namespace greenhub::preload {

// The resolver for a lookup from the calling context, or nullptr (glibc).
Resolver* green_resolver();

}  // namespace greenhub::preload
