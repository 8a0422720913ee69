#include "address_sort.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace greenhub::detail {

namespace {

constexpr const char* kGaiConf = "/etc/gai.conf";

struct PrefixEntry {
  in6_addr prefix;
  unsigned bits;
  int val;
};

struct ScopeEntry {
  uint32_t addr32;   // network order
  uint32_t netmask;  // network order (and compared as stored, like glibc)
  int32_t scope;
};

in6_addr v6(std::initializer_list<uint8_t> bytes) {
  in6_addr a{};
  size_t i = 0;
  for (uint8_t b : bytes) a.s6_addr[i++] = b;
  return a;
}

const std::vector<PrefixEntry>& default_labels() {
  static const std::vector<PrefixEntry> table = {
      {v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 128, 0},
      {v6({0x20, 0x02}), 16, 2},
      {v6({}), 96, 3},
      {v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}), 96, 4},
      {v6({0xfe, 0xc0}), 10, 5},
      {v6({0xfc, 0x00}), 7, 6},
      {v6({0x20, 0x01, 0x00, 0x00}), 32, 7},
      {v6({}), 0, 1},
  };
  return table;
}

const std::vector<PrefixEntry>& default_precedence() {
  static const std::vector<PrefixEntry> table = {
      {v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 128, 50},
      {v6({0x20, 0x02}), 16, 30},
      {v6({}), 96, 20},
      {v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}), 96, 10},
      {v6({}), 0, 40},
  };
  return table;
}

const std::vector<ScopeEntry>& default_scopes() {
  static const std::vector<ScopeEntry> table = {
      {htonl(0xa9fe0000), htonl(0xffff0000), 2},  // 169.254/16: link-local
      {htonl(0x7f000000), htonl(0xff000000), 2},  // 127/8
      {0, 0, 14},
  };
  return table;
}

// The tables in use, from /etc/gai.conf or the defaults.
struct GaiConf {
  std::mutex mutex;
  bool loaded = false;
  bool reload = false;
  bool reload_ever_set = false;
  timespec mtime{};
  std::vector<PrefixEntry> labels = default_labels();
  std::vector<PrefixEntry> precedence = default_precedence();
  std::vector<ScopeEntry> scopes = default_scopes();
};

GaiConf& gaiconf() {
  static GaiConf* conf = new GaiConf();  // never destroyed: used until exit
  return *conf;
}

// strtoul with glibc's checks: the whole string, no overflow.
bool parse_number(const char* text, unsigned long* value) {
  char* end = nullptr;
  errno = 0;
  *value = std::strtoul(text, &end, 10);
  return (*value != ULONG_MAX || errno != ERANGE) && *end == '\0';
}

bool parse_prefix(char* val1, const char* val2, std::vector<PrefixEntry>* list, bool* nullbits) {
  in6_addr prefix;
  unsigned long bits = 128;
  unsigned long val;
  char* cp = std::strchr(val1, '/');
  if (cp != nullptr) *cp++ = '\0';
  if (inet_pton(AF_INET6, val1, &prefix) == 1 && (cp == nullptr || parse_number(cp, &bits)) &&
      bits <= 128 && parse_number(val2, &val) && val <= INT_MAX) {
    list->push_back(PrefixEntry{prefix, static_cast<unsigned>(bits), static_cast<int>(val)});
    *nullbits |= bits == 0;
  }
  return true;
}

void add_scope(std::vector<ScopeEntry>* list, bool* nullbits, const in6_addr& prefix,
               unsigned long bits, unsigned long val) {
  ScopeEntry e;
  e.netmask = htonl(bits != 96 ? (0xffffffffu << (128 - bits)) : 0);
  uint32_t last;
  std::memcpy(&last, &prefix.s6_addr[12], 4);
  e.addr32 = last & e.netmask;
  e.scope = static_cast<int32_t>(val);
  list->push_back(e);
  *nullbits |= bits == 96;
}

void parse_scope(char* val1, const char* val2, std::vector<ScopeEntry>* list, bool* nullbits) {
  in6_addr prefix{};
  unsigned long bits;
  unsigned long val;
  char* cp = std::strchr(val1, '/');
  if (cp != nullptr) *cp++ = '\0';
  if (inet_pton(AF_INET6, val1, &prefix) == 1) {
    bits = 128;
    if (IN6_IS_ADDR_V4MAPPED(&prefix) && (cp == nullptr || parse_number(cp, &bits)) && bits >= 96 &&
        bits <= 128 && parse_number(val2, &val) && val <= INT_MAX) {
      add_scope(list, nullbits, prefix, bits, val);
    }
  } else if (inet_pton(AF_INET, val1, &prefix.s6_addr[12]) == 1) {
    bits = 32;
    if ((cp == nullptr || parse_number(cp, &bits)) && bits <= 32 && parse_number(val2, &val) &&
        val <= INT_MAX) {
      add_scope(list, nullbits, prefix, bits + 96, val);
    }
  }
}

// glibc's gaiconf_init: file order, then a stable sort, most specific first,
// with the default catch-all entry appended unless the file has one.
void load_gaiconf(GaiConf& conf) {
  conf.labels = default_labels();
  conf.precedence = default_precedence();
  conf.scopes = default_scopes();
  FILE* f = std::fopen(kGaiConf, "rce");
  if (f == nullptr) return;
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    std::fclose(f);
    return;
  }
  std::vector<PrefixEntry> labels;
  std::vector<PrefixEntry> precedence;
  std::vector<ScopeEntry> scopes;
  bool labels_null = false;
  bool precedence_null = false;
  bool scopes_null = false;
  char* line = nullptr;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    if (char* hash = std::strchr(line, '#'); hash != nullptr) *hash = '\0';
    char* cp = line;
    while (std::isspace(static_cast<unsigned char>(*cp))) ++cp;
    char* cmd = cp;
    while (*cp != '\0' && !std::isspace(static_cast<unsigned char>(*cp))) ++cp;
    size_t cmdlen = static_cast<size_t>(cp - cmd);
    if (*cp != '\0') *cp++ = '\0';
    while (std::isspace(static_cast<unsigned char>(*cp))) ++cp;
    char* val1 = cp;
    while (*cp != '\0' && !std::isspace(static_cast<unsigned char>(*cp))) ++cp;
    if (cp == cmd) continue;  // glibc measures this from cmd: a blank line
    if (*cp != '\0') *cp++ = '\0';
    while (std::isspace(static_cast<unsigned char>(*cp))) ++cp;
    char* val2 = cp;
    while (*cp != '\0' && !std::isspace(static_cast<unsigned char>(*cp))) ++cp;
    *cp = '\0';
    if (cmdlen == 5 && std::strcmp(cmd, "label") == 0) {
      parse_prefix(val1, val2, &labels, &labels_null);
    } else if (cmdlen == 6 && std::strcmp(cmd, "reload") == 0) {
      conf.reload = std::strcmp(val1, "yes") == 0;
      if (conf.reload) conf.reload_ever_set = true;
    } else if (cmdlen == 7 && std::strcmp(cmd, "scopev4") == 0) {
      parse_scope(val1, val2, &scopes, &scopes_null);
    } else if (cmdlen == 10 && std::strcmp(cmd, "precedence") == 0) {
      parse_prefix(val1, val2, &precedence, &precedence_null);
    }
  }
  std::free(line);
  std::fclose(f);

  auto by_bits = [](const PrefixEntry& a, const PrefixEntry& b) { return a.bits > b.bits; };
  if (!labels.empty()) {
    if (!labels_null) labels.push_back(PrefixEntry{in6_addr{}, 0, 1});
    std::stable_sort(labels.begin(), labels.end(), by_bits);
    conf.labels = std::move(labels);
  }
  if (!precedence.empty()) {
    if (!precedence_null) precedence.push_back(PrefixEntry{in6_addr{}, 0, 40});
    std::stable_sort(precedence.begin(), precedence.end(), by_bits);
    conf.precedence = std::move(precedence);
  }
  if (!scopes.empty()) {
    if (!scopes_null) scopes.push_back(ScopeEntry{0, 0, 14});
    std::stable_sort(scopes.begin(), scopes.end(), [](const ScopeEntry& a, const ScopeEntry& b) {
      return a.netmask > b.netmask;
    });
    conf.scopes = std::move(scopes);
  }
  conf.mtime = st.st_mtim;
}

struct SortResult {
  addrinfo* dest_addr = nullptr;
  sockaddr_in6 source_addr{};
  uint8_t source_addr_len = 0;
  bool got_source_addr = false;
  uint8_t source_addr_flags = 0;
  uint8_t prefixlen = 0;
  uint32_t index = 0xffffffffu;
  int32_t native = -1;
};

struct SortContext {
  std::vector<SortResult>* results;
  const std::vector<PrefixEntry>* labels;
  const std::vector<PrefixEntry>* precedence;
  const std::vector<ScopeEntry>* scopes;
};

int get_scope(const SortContext& ctx, const sockaddr_in6* in6) {
  if (in6->sin6_family == AF_INET6) {
    if (!IN6_IS_ADDR_MULTICAST(&in6->sin6_addr)) {
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 2;
      if (IN6_IS_ADDR_SITELOCAL(&in6->sin6_addr)) return 5;
      return 14;
    }
    return in6->sin6_addr.s6_addr[1] & 0xf;
  }
  if (in6->sin6_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(in6);
    for (const ScopeEntry& e : *ctx.scopes) {
      if ((in->sin_addr.s_addr & e.netmask) == e.addr32) return e.scope;
    }
    return 14;  // unreachable: the table ends with a catch-all
  }
  return 15;
}

int match_prefix(const sockaddr_in6* in6, const std::vector<PrefixEntry>& list, int default_val) {
  sockaddr_in6 mapped;
  if (in6->sin6_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(in6);
    std::memset(&mapped, 0, sizeof mapped);
    mapped.sin6_family = AF_INET6;
    mapped.sin6_addr.s6_addr[10] = 0xff;
    mapped.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&mapped.sin6_addr.s6_addr[12], &in->sin_addr, 4);
    in6 = &mapped;
  } else if (in6->sin6_family != AF_INET6) {
    return default_val;
  }
  for (const PrefixEntry& e : list) {
    unsigned bits = e.bits;
    const uint8_t* mask = e.prefix.s6_addr;
    const uint8_t* val = in6->sin6_addr.s6_addr;
    while (bits >= 8) {
      if (*mask != *val) break;
      ++mask;
      ++val;
      bits -= 8;
    }
    if (bits < 8 && (*mask & (0xff00 >> bits)) == (*val & (0xff00 >> bits))) return e.val;
  }
  return default_val;
}

int fls(uint32_t a) {
  int n = 0;
  for (uint32_t mask = 1u << 31; n < 32; mask >>= 1, ++n) {
    if ((a & mask) != 0) break;
  }
  return n;
}

// glibc computes 0xffffffff << (32 - prefixlen); x86 masks the shift
// count, so a prefix length of 0 (unknown) gives a full mask.
uint32_t prefix_mask(unsigned prefixlen) { return 0xffffffffu << ((32 - prefixlen) & 31); }

const sockaddr_in6* dest_of(const SortResult& r) {
  return reinterpret_cast<const sockaddr_in6*>(r.dest_addr->ai_addr);
}

// glibc's rfc3484_sort.
int rfc3484_compare(size_t idx1, size_t idx2, SortContext& ctx) {
  std::vector<SortResult>& results = *ctx.results;
  SortResult* a1 = &results[idx1];
  SortResult* a2 = &results[idx2];

  // Rule 1: avoid unusable destinations.
  if (a1->got_source_addr && !a2->got_source_addr) return -1;
  if (!a1->got_source_addr && a2->got_source_addr) return 1;

  // Rule 2: prefer matching scope.
  int a1_dst_scope = get_scope(ctx, dest_of(*a1));
  int a2_dst_scope = get_scope(ctx, dest_of(*a2));
  if (a1->got_source_addr) {
    int a1_src_scope = get_scope(ctx, &a1->source_addr);
    int a2_src_scope = get_scope(ctx, &a2->source_addr);
    if (a1_dst_scope == a1_src_scope && a2_dst_scope != a2_src_scope) return -1;
    if (a1_dst_scope != a1_src_scope && a2_dst_scope == a2_src_scope) return 1;
  }

  // Rule 3: avoid deprecated addresses.
  if (a1->got_source_addr) {
    if (!(a1->source_addr_flags & kIn6aiDeprecated) && (a2->source_addr_flags & kIn6aiDeprecated)) {
      return -1;
    }
    if ((a1->source_addr_flags & kIn6aiDeprecated) && !(a2->source_addr_flags & kIn6aiDeprecated)) {
      return 1;
    }
  }

  // Rule 4: prefer home addresses.
  if (a1->got_source_addr) {
    if (!(a1->source_addr_flags & kIn6aiHomeAddress) &&
        (a2->source_addr_flags & kIn6aiHomeAddress)) {
      return 1;
    }
    if ((a1->source_addr_flags & kIn6aiHomeAddress) &&
        !(a2->source_addr_flags & kIn6aiHomeAddress)) {
      return -1;
    }
  }

  // Rule 5: prefer matching label.
  if (a1->got_source_addr) {
    int a1_dst_label = match_prefix(dest_of(*a1), *ctx.labels, INT_MAX);
    int a1_src_label = match_prefix(&a1->source_addr, *ctx.labels, INT_MAX);
    int a2_dst_label = match_prefix(dest_of(*a2), *ctx.labels, INT_MAX);
    int a2_src_label = match_prefix(&a2->source_addr, *ctx.labels, INT_MAX);
    if (a1_dst_label == a1_src_label && a2_dst_label != a2_src_label) return -1;
    if (a1_dst_label != a1_src_label && a2_dst_label == a2_src_label) return 1;
  }

  // Rule 6: prefer higher precedence.
  int a1_prec = match_prefix(dest_of(*a1), *ctx.precedence, 0);
  int a2_prec = match_prefix(dest_of(*a2), *ctx.precedence, 0);
  if (a1_prec > a2_prec) return -1;
  if (a1_prec < a2_prec) return 1;

  // Rule 7: prefer native transport.
  if (a1->got_source_addr && a1->index != a2->index) {
    int a1_native = a1->native;
    int a2_native = a2->native;
    if (a1_native == -1 || a2_native == -1) {
      uint32_t a1_index;
      if (a1_native == -1) {
        a1_native = 0;
        a1_index = a1->index;
      } else {
        a1_index = 0xffffffffu;
      }
      uint32_t a2_index;
      if (a2_native == -1) {
        a2_native = 0;
        a2_index = a2->index;
      } else {
        a2_index = 0xffffffffu;
      }
      check_native(a1_index, &a1_native, a2_index, &a2_native);
      for (SortResult& r : results) {
        if (a1_index != 0xffffffffu && r.index == a1_index) {
          r.native = a1_native;
        } else if (a2_index != 0xffffffffu && r.index == a2_index) {
          r.native = a2_native;
        }
      }
    }
    if (a1_native && !a2_native) return -1;
    if (!a1_native && a2_native) return 1;
  }

  // Rule 8: prefer smaller scope.
  if (a1_dst_scope < a2_dst_scope) return -1;
  if (a1_dst_scope > a2_dst_scope) return 1;

  // Rule 9: use longest matching prefix.
  if (a1->got_source_addr && a1->dest_addr->ai_family == a2->dest_addr->ai_family) {
    int bit1 = 0;
    int bit2 = 0;
    if (a1->dest_addr->ai_family == AF_INET) {
      auto in_of = [](const void* p) {
        return ntohl(static_cast<const sockaddr_in*>(p)->sin_addr.s_addr);
      };
      uint32_t in1_dst = in_of(a1->dest_addr->ai_addr);
      uint32_t in1_src = in_of(&a1->source_addr);
      uint32_t netmask1 = prefix_mask(a1->prefixlen);
      if ((in1_src & netmask1) == (in1_dst & netmask1)) bit1 = fls(in1_dst ^ in1_src);
      uint32_t in2_dst = in_of(a2->dest_addr->ai_addr);
      uint32_t in2_src = in_of(&a2->source_addr);
      uint32_t netmask2 = prefix_mask(a2->prefixlen);
      if ((in2_src & netmask2) == (in2_dst & netmask2)) bit2 = fls(in2_dst ^ in2_src);
    } else if (a1->dest_addr->ai_family == AF_INET6) {
      const auto* in1_dst = dest_of(*a1);
      const auto* in1_src = &a1->source_addr;
      const auto* in2_dst = dest_of(*a2);
      const auto* in2_src = &a2->source_addr;
      auto word = [](const sockaddr_in6* s, int i) {
        uint32_t w;
        std::memcpy(&w, &s->sin6_addr.s6_addr[4 * i], 4);
        return w;
      };
      int i;
      for (i = 0; i < 4; ++i) {
        if (word(in1_dst, i) != word(in1_src, i) || word(in2_dst, i) != word(in2_src, i)) break;
      }
      if (i < 4) {
        bit1 = fls(ntohl(word(in1_dst, i) ^ word(in1_src, i)));
        bit2 = fls(ntohl(word(in2_dst, i) ^ word(in2_src, i)));
      }
    }
    if (bit1 > bit2) return -1;
    if (bit1 < bit2) return 1;
  }

  // Rule 10: leave the order unchanged.
  return idx1 < idx2 ? -1 : 1;
}

// glibc 2.36's qsort for small arrays: msort_with_tmp.
void merge_sort(size_t* b, size_t n, size_t* tmp, SortContext& ctx) {
  if (n <= 1) return;
  size_t n1 = n / 2;
  size_t n2 = n - n1;
  size_t* b1 = b;
  size_t* b2 = b + n1;
  merge_sort(b1, n1, tmp, ctx);
  merge_sort(b2, n2, tmp, ctx);
  size_t* out = tmp;
  while (n1 > 0 && n2 > 0) {
    if (rfc3484_compare(*b1, *b2, ctx) <= 0) {
      *out++ = *b1++;
      --n1;
    } else {
      *out++ = *b2++;
      --n2;
    }
  }
  if (n1 > 0) std::memcpy(out, b1, n1 * sizeof(size_t));
  std::memcpy(b, tmp, (n - n2) * sizeof(size_t));
}

// The source address the kernel would use to reach a destination (a UDP
// connect sends nothing). Like glibc, one socket per family serves the whole
// sort: connect(AF_UNSPEC) dissolves the previous association.
class SourceProbe {
 public:
  ~SourceProbe() {
    for (int fd : fds_) {
      if (fd >= 0) syscall(SYS_close, fd);
    }
  }

  bool probe(const addrinfo* dest, sockaddr_in6* source) {
    const int slot = dest->ai_family == AF_INET6 ? 1 : 0;
    int& fd = fds_[slot];
    if (fd < 0) {
      fd = static_cast<int>(
          syscall(SYS_socket, dest->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP));
      if (fd < 0) return false;
    } else {
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      syscall(SYS_connect, fd, &unspec, sizeof unspec);
    }
    socklen_t len = sizeof(*source);
    return syscall(SYS_connect, fd, dest->ai_addr, dest->ai_addrlen) == 0 &&
           syscall(SYS_getsockname, fd, source, &len) == 0;
  }

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace

void sort_addresses_rfc3484(addrinfo** list, const InterfaceInfo& interfaces) {
  GaiConf& conf = gaiconf();
  std::vector<PrefixEntry> labels;
  std::vector<PrefixEntry> precedence;
  std::vector<ScopeEntry> scopes;
  {
    std::lock_guard<std::mutex> lock(conf.mutex);
    if (!conf.loaded) {
      load_gaiconf(conf);
      conf.loaded = true;
    } else if (conf.reload_ever_set && conf.reload) {
      struct stat st;
      if (stat(kGaiConf, &st) != 0 || st.st_mtim.tv_sec != conf.mtime.tv_sec ||
          st.st_mtim.tv_nsec != conf.mtime.tv_nsec) {
        load_gaiconf(conf);
      }
    }
    labels = conf.labels;
    precedence = conf.precedence;
    scopes = conf.scopes;
  }

  std::vector<SortResult> results;
  SourceProbe probe;
  char* canonname = nullptr;
  addrinfo* last = nullptr;
  for (addrinfo* q = *list; q != nullptr; last = q, q = q->ai_next) {
    SortResult r;
    r.dest_addr = q;
    if (last != nullptr && last->ai_addrlen == q->ai_addrlen &&
        std::memcmp(last->ai_addr, q->ai_addr, q->ai_addrlen) == 0) {
      const SortResult& prev = results.back();
      r.source_addr = prev.source_addr;
      r.source_addr_len = prev.source_addr_len;
      r.got_source_addr = prev.got_source_addr;
      r.source_addr_flags = prev.source_addr_flags;
      r.prefixlen = prev.prefixlen;
      r.index = prev.index;
    } else if (probe.probe(q, &r.source_addr)) {
      r.source_addr_len = sizeof(r.source_addr);
      r.got_source_addr = true;
      if (!interfaces.addresses.empty()) {
        InterfaceAddress key{};
        if (q->ai_family == AF_INET) {
          const auto* sin = reinterpret_cast<const sockaddr_in*>(&r.source_addr);
          key.addr[2] = htonl(0xffff);
          // The loopback interface may carry 127.0.0.1 only.
          key.addr[3] = (ntohl(sin->sin_addr.s_addr) & 0xff000000u) == 0x7f000000u
                            ? htonl(0x7f000001)
                            : sin->sin_addr.s_addr;
        } else {
          std::memcpy(key.addr, &r.source_addr.sin6_addr, 16);
        }
        auto it = std::lower_bound(interfaces.addresses.begin(), interfaces.addresses.end(), key,
                                   [](const InterfaceAddress& a, const InterfaceAddress& b) {
                                     return std::memcmp(a.addr, b.addr, sizeof a.addr) < 0;
                                   });
        if (it != interfaces.addresses.end() &&
            std::memcmp(it->addr, key.addr, sizeof key.addr) == 0) {
          r.source_addr_flags = it->flags;
          r.prefixlen = it->prefixlen;
          r.index = it->index;
        }
      }
    }
    if (q->ai_canonname != nullptr) {
      canonname = q->ai_canonname;
      q->ai_canonname = nullptr;
    }
    results.push_back(r);
  }

  const size_t n = results.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::vector<size_t> tmp(n);
  SortContext ctx{&results, &labels, &precedence, &scopes};
  merge_sort(order.data(), n, tmp.data(), ctx);

  addrinfo* head = results[order[0]].dest_addr;
  addrinfo* q = head;
  for (size_t i = 1; i < n; ++i) q = q->ai_next = results[order[i]].dest_addr;
  q->ai_next = nullptr;
  head->ai_canonname = canonname;
  *list = head;
}

}  // namespace greenhub::detail
