#include "hosts_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace greenhub::detail {

namespace {

constexpr const char* kNsswitchPath = "/etc/nsswitch.conf";
constexpr const char* kNscdSocket = "/var/run/nscd/socket";

struct Stamp {
  bool exists = false;
  ino_t inode = 0;
  off_t size = 0;
  timespec mtime{};

  static Stamp of(const char* path) {
    Stamp s;
    struct stat st;
    if (stat(path, &st) != 0) return s;
    s.exists = true;
    s.inode = st.st_ino;
    s.size = st.st_size;
    s.mtime = st.st_mtim;
    return s;
  }
  bool operator==(const Stamp& o) const {
    return exists == o.exists && inode == o.inode && size == o.size &&
           mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
  }
};

const char* host_conf_path() {
  const char* path = std::getenv("RESOLV_HOST_CONF");
  return path != nullptr ? path : "/etc/host.conf";
}

// Splits the rest of a line into whitespace-separated words.
std::vector<std::string> words(const char* p) {
  std::vector<std::string> out;
  while (*p != '\0') {
    while (*p != '\0' && std::isspace(static_cast<unsigned char>(*p))) ++p;
    const char* start = p;
    while (*p != '\0' && !std::isspace(static_cast<unsigned char>(*p))) ++p;
    if (p > start) out.emplace_back(start, p);
  }
  return out;
}

struct Cache {
  bool loaded = false;
  Stamp nsswitch;
  Stamp host_conf;
  bool nscd = false;
  std::shared_ptr<const HostsConfig> config;
};

thread_local Cache tls_cache;

}  // namespace

struct HostsConfigLoader {
  static std::shared_ptr<const HostsConfig> load() {
    auto config = std::make_shared<HostsConfig>();
    config->reason_ = read_nsswitch(config->sources_);
    if (config->reason_ == nullptr) config->reason_ = read_host_conf();
    if (config->reason_ == nullptr && access(kNscdSocket, F_OK) == 0) {
      config->reason_ = "nscd is running (glibc asks it first)";
    }
    if (config->reason_ != nullptr) config->sources_.clear();
    return config;
  }

  // Returns nullptr if the hosts line is one the asynchronous resolver
  // follows (filling `sources`), else the reason it is not.
  static const char* read_nsswitch(std::vector<HostsSource>& sources) {
    FILE* f = std::fopen(kNsswitchPath, "re");
    if (f == nullptr) return "no /etc/nsswitch.conf (glibc's default hosts line has actions)";
    char* line = nullptr;
    size_t cap = 0;
    const char* reason = "no hosts line in /etc/nsswitch.conf";
    bool found = false;
    while (!found && getline(&line, &cap, f) > 0) {
      if (char* hash = std::strchr(line, '#'); hash != nullptr) *hash = '\0';
      char* p = line;
      while (std::isspace(static_cast<unsigned char>(*p))) ++p;
      if (strncasecmp(p, "hosts", 5) != 0) continue;
      p += 5;
      while (std::isspace(static_cast<unsigned char>(*p))) ++p;
      if (*p != ':') continue;
      found = true;
      reason = nullptr;
      for (const std::string& word : words(p + 1)) {
        if (word == "files") {
          sources.push_back(HostsSource::kFiles);
        } else if (word == "dns") {
          sources.push_back(HostsSource::kDns);
        } else if (word[0] == '[') {
          reason = "the hosts line has an [ACTION]";
          break;
        } else {
          reason = "the hosts line names a module other than files and dns";
          break;
        }
      }
      if (reason == nullptr && sources.empty()) reason = "the hosts line is empty";
    }
    std::free(line);
    std::fclose(f);
    return reason;
  }

  static const char* read_host_conf() {
    if (std::getenv("RESOLV_REORDER") != nullptr ||
        std::getenv("RESOLV_ADD_TRIM_DOMAINS") != nullptr ||
        std::getenv("RESOLV_OVERRIDE_TRIM_DOMAINS") != nullptr) {
      return "RESOLV_REORDER or RESOLV_*_TRIM_DOMAINS is set";
    }
    FILE* f = std::fopen(host_conf_path(), "re");
    if (f == nullptr) return nullptr;
    char* line = nullptr;
    size_t cap = 0;
    const char* reason = nullptr;
    while (reason == nullptr && getline(&line, &cap, f) > 0) {
      if (char* hash = std::strchr(line, '#'); hash != nullptr) *hash = '\0';
      std::vector<std::string> w = words(line);
      if (w.empty()) continue;
      if (strcasecmp(w[0].c_str(), "trim") == 0) reason = "host.conf trims domains";
      if (strcasecmp(w[0].c_str(), "reorder") == 0 && w.size() > 1 &&
          strcasecmp(w[1].c_str(), "on") == 0) {
        reason = "host.conf reorders addresses";
      }
    }
    std::free(line);
    std::fclose(f);
    return reason;
  }
};

std::shared_ptr<const HostsConfig> HostsConfig::current() {
  Cache& cache = tls_cache;
  Stamp nsswitch = Stamp::of(kNsswitchPath);
  Stamp host_conf = Stamp::of(host_conf_path());
  bool nscd = access(kNscdSocket, F_OK) == 0;
  if (cache.loaded && nsswitch == cache.nsswitch && host_conf == cache.host_conf &&
      nscd == cache.nscd) {
    return cache.config;
  }
  cache.config = HostsConfigLoader::load();
  cache.loaded = true;
  cache.nsswitch = nsswitch;
  cache.host_conf = host_conf;
  cache.nscd = nscd;
  return cache.config;
}

}  // namespace greenhub::detail
