#include "dns_config.hpp"

#include <arpa/nameser.h>
#include <sys/stat.h>

#include <cstring>

namespace greenhub::detail {

namespace {

// Deprecated options the public header no longer defines.
constexpr unsigned long kResUseInet6 = 0x00002000;
// glibc's RESOLV_EDNS_BUFFER_SIZE: the largest UDP payload it advertises.
constexpr int kEdnsBufferSize = 1200;
constexpr uint16_t kOptDnssecOk = 0x8000;

// How glibc (file_change_detection) tells that a file changed.
struct FileIdentity {
  bool exists = false;
  off_t size = 0;
  ino_t inode = 0;
  timespec mtime{};
  timespec ctime{};

  static FileIdentity of(const char* path) {
    FileIdentity id;
    struct stat st;
    if (stat(path, &st) != 0) return id;
    id.exists = true;
    id.size = st.st_size;
    id.inode = st.st_ino;
    id.mtime = st.st_mtim;
    id.ctime = st.st_ctim;
    return id;
  }

  bool operator==(const FileIdentity& o) const {
    return exists == o.exists && size == o.size && inode == o.inode &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec &&
           ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

struct ThreadCache {
  bool loaded = false;
  FileIdentity identity;
  std::shared_ptr<const DnsConfig> config;
};

thread_local ThreadCache tls_cache;

bool same_server(const sockaddr_in& a4, const sockaddr_in6* a6, const DnsServer& s) {
  if (a4.sin_family == AF_INET) {
    if (s.address.ss_family != AF_INET) return false;
    const auto& b = reinterpret_cast<const sockaddr_in&>(s.address);
    return b.sin_port == a4.sin_port && b.sin_addr.s_addr == a4.sin_addr.s_addr;
  }
  if (a6 == nullptr || a6->sin6_family != AF_INET6 || s.address.ss_family != AF_INET6) return false;
  const auto& b = reinterpret_cast<const sockaddr_in6&>(s.address);
  return b.sin6_port == a6->sin6_port &&
         std::memcmp(&b.sin6_addr, &a6->sin6_addr, sizeof(in6_addr)) == 0 &&
         b.sin6_scope_id == a6->sin6_scope_id;
}

}  // namespace

DnsConfig::~DnsConfig() {
  if (state_ != nullptr) res_nclose(state_.get());
}

void DnsConfig::copy_from(const struct __res_state& st) {
  retrans_ = st.retrans;
  retry_ = st.retry;
  options_ = st.options;
  ndots_ = st.ndots;
  for (int i = 0; i < st.nscount && i < MAXNS; ++i) {
    DnsServer server;
    if (st.nsaddr_list[i].sin_family == AF_INET) {
      std::memcpy(&server.address, &st.nsaddr_list[i], sizeof(sockaddr_in));
      server.length = sizeof(sockaddr_in);
    } else if (st._u._ext.nsaddrs[i] != nullptr && st._u._ext.nsaddrs[i]->sin6_family == AF_INET6) {
      std::memcpy(&server.address, st._u._ext.nsaddrs[i], sizeof(sockaddr_in6));
      server.length = sizeof(sockaddr_in6);
    } else {
      continue;
    }
    servers_.push_back(server);
  }
  for (int i = 0; i < MAXDNSRCH && st.dnsrch[i] != nullptr; ++i) search_.emplace_back(st.dnsrch[i]);
  // The public state holds at most MAXDNSRCH domains; glibc may know more.
  search_truncated_ = search_.size() >= MAXDNSRCH;
  for (unsigned i = 0; i < st.nsort && i < MAXRESOLVSORT; ++i) {
    sortlist_.push_back(SortlistEntry{st.sort_list[i].addr, st.sort_list[i].mask});
  }
}

std::shared_ptr<const DnsConfig> DnsConfig::current() {
  ThreadCache& cache = tls_cache;
  FileIdentity identity = FileIdentity::of(_PATH_RESCONF);
  if (cache.loaded && identity == cache.identity) return cache.config;

  std::shared_ptr<DnsConfig> config(new DnsConfig());
  config->state_ = std::make_unique<struct __res_state>();
  std::memset(config->state_.get(), 0, sizeof(struct __res_state));
  // res_ninit also initializes glibc's host.conf settings (_res_hconf),
  // which its hosts-file backend reads.
  res_ninit(config->state_.get());
  config->copy_from(*config->state_);
  config->query_state_ = config->state_.get();
  cache.loaded = true;
  cache.identity = identity;
  cache.config = std::move(config);
  return cache.config;
}

std::shared_ptr<const DnsConfig> DnsConfig::from_state(const struct __res_state& state) {
  std::shared_ptr<DnsConfig> config(new DnsConfig());
  config->copy_from(state);
  config->query_state_ = &state;
  return config;
}

int DnsConfig::make_query(const char* name, int klass, int type, unsigned char* buf, int buflen,
                          int advertised_payload) const {
  int n = res_nmkquery(const_cast<struct __res_state*>(query_state_), QUERY, name, klass, type,
                       nullptr, 0, nullptr, buf, buflen);
  if (n <= 0 || (options_ & (RES_USE_EDNS0 | RES_USE_DNSSEC)) == 0) return n;
  // glibc's __res_nopt: an OPT pseudo-record advertising the payload size.
  if (buflen - n < 1 + RRFIXEDSZ) return -1;
  unsigned char* cp = buf + n;
  int payload = advertised_payload < 512               ? 512
                : advertised_payload > kEdnsBufferSize ? kEdnsBufferSize
                                                       : advertised_payload;
  uint16_t flags = (options_ & RES_USE_DNSSEC) != 0 ? kOptDnssecOk : 0;
  *cp++ = 0;  // root name
  NS_PUT16(ns_t_opt, cp);
  NS_PUT16(payload, cp);
  *cp++ = 0;  // extended rcode
  *cp++ = 0;  // version
  NS_PUT16(flags, cp);
  NS_PUT16(0, cp);  // rdlength
  auto* header = reinterpret_cast<HEADER*>(buf);
  header->arcount = htons(static_cast<uint16_t>(ntohs(header->arcount) + 1));
  return static_cast<int>(cp - buf);
}

bool DnsConfig::needs_glibc(const char** why) const {
  if ((options_ & kResUseInet6) != 0) {
    *why = "options inet6";
    return true;
  }
  if (search_truncated_) {
    *why = "more search domains than the public resolver state holds";
    return true;
  }
  return false;
}

bool DnsConfig::matches_state(const struct __res_state& st) const {
  if ((st.options & RES_INIT) == 0) return true;  // never used: glibc would load the file
  if (st.retrans != retrans_ || st.retry != retry_ || st.options != options_ ||
      st.ndots != ndots_ || st.nsort != sortlist_.size()) {
    return false;
  }
  size_t servers = 0;
  for (int i = 0; i < st.nscount && i < MAXNS; ++i) {
    if (servers >= servers_.size() ||
        !same_server(st.nsaddr_list[i], st._u._ext.nsaddrs[i], servers_[servers])) {
      return false;
    }
    ++servers;
  }
  if (servers != servers_.size()) return false;
  size_t domains = 0;
  for (int i = 0; i < MAXDNSRCH && st.dnsrch[i] != nullptr; ++i, ++domains) {
    if (domains >= search_.size() || search_[domains] != st.dnsrch[i]) return false;
  }
  if (domains != search_.size()) return false;
  for (unsigned i = 0; i < st.nsort; ++i) {
    if (st.sort_list[i].addr.s_addr != sortlist_[i].address.s_addr ||
        st.sort_list[i].mask != sortlist_[i].mask) {
      return false;
    }
  }
  return true;
}

}  // namespace greenhub::detail
