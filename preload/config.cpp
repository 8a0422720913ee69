// GREENHUB_* configuration of the preload, read once at start-up. A value
// that does not parse is reported on stderr and the process exits with
// status 2 before main(): never a crash and never a silent default.
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <string>

#include "greenhub/threadpool.hpp"
#include "runtime.hpp"

namespace greenhub::preload {
namespace {

[[noreturn]] void bad_value(const char* name, const char* value, const char* expected) {
  std::fprintf(stderr, "greenhub: %s=%s is not valid: expected %s\n", name, value, expected);
  _exit(2);
}

bool parse_unsigned(const char* text, unsigned long long* out) {
  if (text[0] < '0' || text[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtoull(text, &end, 10);
  return errno == 0 && *end == '\0';
}

size_t parse_size_or_die(const char* name, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || text[0] < '0' || text[0] > '9') {
    bad_value(name, text, "a size like 64K, 256K or 1M (16K to 1G)");
  }
  switch (*end) {
    case 'k': case 'K': value <<= 10; ++end; break;
    case 'm': case 'M': value <<= 20; ++end; break;
    case 'g': case 'G': value <<= 30; ++end; break;
    default: break;
  }
  if (*end == 'i') ++end;
  if (*end == 'B' || *end == 'b') ++end;
  if (*end != '\0' || value < 16 * 1024 || value > (1ull << 30)) {
    bad_value(name, text, "a size like 64K, 256K or 1M (16K to 1G)");
  }
  return static_cast<size_t>(value);
}

size_t cpus_in_affinity_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<size_t>(n) : 1;
}

}  // namespace

Config read_config_from_environment() {
  Config c;
  c.hubs = cpus_in_affinity_mask();
  if (const char* v = std::getenv("GREENHUB_HUBS"); v != nullptr && *v != '\0') {
    unsigned long long n = 0;
    if (!parse_unsigned(v, &n) || n < 1 || n > 1024) bad_value("GREENHUB_HUBS", v, "a number of hubs from 1 to 1024");
    c.hubs = static_cast<size_t>(n);
  }
  if (const char* v = std::getenv("GREENHUB_GREEN_THREADS"); v != nullptr && *v != '\0') {
    if (std::strcmp(v, "0") == 0) c.green_threads = false;
    else if (std::strcmp(v, "1") == 0) c.green_threads = true;
    else bad_value("GREENHUB_GREEN_THREADS", v, "0 or 1");
  }
  if (const char* v = std::getenv("GREENHUB_STACK_SIZE"); v != nullptr && *v != '\0') {
    c.stack_size = parse_size_or_die("GREENHUB_STACK_SIZE", v);
  }
  if (const char* v = std::getenv("GREENHUB_MAX_BLOCKING_MS"); v != nullptr && *v != '\0') {
    unsigned long long ms = 0;
    if (!parse_unsigned(v, &ms) || ms > 3600000) {
      bad_value("GREENHUB_MAX_BLOCKING_MS", v, "milliseconds from 0 (no monitor) to 3600000");
    }
    c.max_blocking_ms = static_cast<unsigned>(ms);
  }
  if (const char* v = std::getenv("GREENHUB_MONITOR_LOG"); v != nullptr && *v != '\0') {
    c.monitor_log = v;
  }
  if (const char* v = std::getenv("GREENHUB_STATS"); v != nullptr && *v != '\0') {
    if (std::strcmp(v, "0") == 0) c.stats = false;
    else if (std::strcmp(v, "1") == 0) c.stats = true;
    else bad_value("GREENHUB_STATS", v, "0 or 1");
  }
  // Read by the hub library when first needed, which falls back to its
  // default with a warning; under the preload a bad value is fatal at
  // start-up like every other GREENHUB_* variable.
  if (const char* v = std::getenv("GREENHUB_RESOLVER"); v != nullptr && *v != '\0') {
    if (std::strcmp(v, "ares") != 0 && std::strcmp(v, "thread") != 0 && std::strcmp(v, "block") != 0) {
      bad_value("GREENHUB_RESOLVER", v, "ares, thread or block");
    }
  }
  if (const char* v = std::getenv("GREENHUB_THREADPOOL_SIZE"); v != nullptr && *v != '\0') {
    std::string error;
    if (detail::parse_threadpool_size(v, &error) == 0) {
      std::fprintf(stderr, "greenhub: %s\n", error.c_str());
      _exit(2);
    }
  }
  return c;
}

}  // namespace greenhub::preload
