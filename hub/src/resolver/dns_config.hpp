// DnsConfig: the stub resolver's configuration (/etc/resolv.conf), read the
// way glibc reads it.
//
// How it works
//   The file is parsed by glibc itself: res_ninit() on a private
//   struct __res_state, which applies glibc's defaults and its environment
//   overrides (LOCALDOMAIN, RES_OPTIONS) exactly as the native resolver
//   does. The fields the asynchronous resolver needs (nameservers, search
//   list, ndots, timeout, attempts, options, sortlist) are copied out of
//   that state, which is kept for building queries with res_nmkquery.
//
//   Like glibc (2.26 and later), every lookup checks whether
//   /etc/resolv.conf changed (size, inode, mtime, ctime) and reloads it if
//   so. The snapshot is cached per OS thread (one hub per thread), so
//   lookups take no lock; a snapshot is immutable and shared by the
//   lookups that started under it.
#pragma once

#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

namespace greenhub::detail {

struct DnsServer {
  sockaddr_storage address{};
  socklen_t length = 0;
};

struct SortlistEntry {
  in_addr address{};
  uint32_t mask = 0;  // network byte order
};

class DnsConfig {
 public:
  // The configuration for a lookup now, reloaded if the file changed.
  static std::shared_ptr<const DnsConfig> current();

  // A configuration taken from an initialized res_state (res_nquery & co.
  // with an explicit state).
  static std::shared_ptr<const DnsConfig> from_state(const struct __res_state& state);

  ~DnsConfig();
  DnsConfig(const DnsConfig&) = delete;
  DnsConfig& operator=(const DnsConfig&) = delete;

  const std::vector<DnsServer>& servers() const { return servers_; }
  const std::vector<std::string>& search() const { return search_; }
  unsigned ndots() const { return ndots_; }
  int timeout_seconds() const { return retrans_; }  // RES_TIMEOUT, "options timeout:"
  int attempts() const { return retry_; }           // "options attempts:"
  unsigned long options() const { return options_; }
  const std::vector<SortlistEntry>& sortlist() const { return sortlist_; }

  // Builds a query as glibc would (res_nmkquery, then an EDNS0 OPT record
  // if "options edns0"). Returns the length, or -1 if the name is invalid.
  int make_query(const char* name, int klass, int type, unsigned char* buf, int buflen,
                 int advertised_payload) const;

  // Whether this configuration asks for something the asynchronous
  // resolver does not reproduce (so the lookup goes to the thread
  // resolver); *why names it.
  bool needs_glibc(const char** why) const;

  // Whether a thread's res_state (the caller's _res) still holds exactly
  // this configuration. False when the program modified it (so only glibc
  // on the calling thread gives the program's answer).
  bool matches_state(const struct __res_state& state) const;

 private:
  DnsConfig() = default;
  void copy_from(const struct __res_state& state);

  std::unique_ptr<struct __res_state> state_;  // owned, res_nclose'd; null for from_state
  const struct __res_state* query_state_ = nullptr;
  std::vector<DnsServer> servers_;
  std::vector<std::string> search_;
  unsigned ndots_ = 1;
  int retrans_ = RES_TIMEOUT;
  int retry_ = 2;
  unsigned long options_ = 0;
  std::vector<SortlistEntry> sortlist_;
  bool search_truncated_ = false;
};

}  // namespace greenhub::detail
