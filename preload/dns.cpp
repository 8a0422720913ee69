// Green DNS routing (see dns.hpp), and GREENHUB_RESOLVER_STATS: with it set
// to a non-empty value, the process writes at exit one line to stderr
//
//   greenhub: resolver lookups: ares=N thread=N block=N ares_fallbacks=N
//
// counting the lookups each resolver answered for green callers (a lookup
// the asynchronous resolver handed to the thread resolver counts under
// thread and ares_fallbacks). Lookups that went straight to glibc (non-green
// callers) are not counted.
#include "dns.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "real.hpp"
#include "runtime.hpp"

namespace greenhub::preload {

Resolver* green_resolver() {
  if (green_hub() == nullptr) return nullptr;
  return &Resolver::get();
}

namespace {

__attribute__((destructor)) void report_resolver_stats() {
  const char* wanted = std::getenv("GREENHUB_RESOLVER_STATS");
  if (wanted == nullptr || *wanted == '\0') return;
  const ResolverStats s = resolver_stats();
  char line[160];
  const int n = std::snprintf(line, sizeof line,
                              "greenhub: resolver lookups: ares=%llu thread=%llu block=%llu "
                              "ares_fallbacks=%llu\n",
                              static_cast<unsigned long long>(s.ares),
                              static_cast<unsigned long long>(s.thread),
                              static_cast<unsigned long long>(s.block),
                              static_cast<unsigned long long>(s.ares_fallbacks));
  if (n > 0) {
    ssize_t ignored = GREENHUB_REAL(write)(STDERR_FILENO, line, static_cast<size_t>(n));
    (void)ignored;
  }
}

}  // namespace
}  // namespace greenhub::preload
