// The world the dns tests run in: a private mount namespace where
// /etc/resolv.conf, /etc/hosts, /etc/nsswitch.conf and /etc/host.conf (and
// /etc/gai.conf on request) are the tests' own files, and two instances of
// the test DNS server (dns_test_server.py) on loopback addresses of their
// own, so that glibc and greenhub, in this process, see the same
// configuration and the same servers, and no query leaves the machine.
//
// enter() must run first thing in main(), before any thread or lookup
// exists: it unshares the mount namespace (CLONE_NEWNS), makes mounts
// private, bind-mounts the files, hides a running nscd, and starts the
// servers. It returns 77 (meson's "skipped") when the process is not root
// or may not create a mount namespace, 1 on any other failure, 0 when
// ready.
//
// The resolv.conf file is rewritten in place (the bind mount pins its
// inode); glibc and greenhub both notice the change and reload it.
#pragma once

#include <string>
#include <vector>

namespace dnstest {

class DnsEnvironment {
 public:
  static DnsEnvironment& instance();

  // gai_conf: a file to bind over /etc/gai.conf, or empty for an empty one.
  int enter(const std::string& server_script, const std::string& gai_conf);
  void stop_servers();

  // The two servers (same zone) and an address where nothing listens.
  const std::string& primary() const { return servers_[0].address; }
  const std::string& secondary() const { return servers_[1].address; }
  const std::string& dead() const { return dead_address_; }

  // Replaces /etc/resolv.conf (as seen in the namespace) by `text`.
  void write_resolv_conf(const std::string& text);
  // The standard configuration: the primary server, search sub.test test,
  // timeout 1, attempts 1, plus `extra` lines.
  void use_standard_resolv_conf(const std::string& extra = "");

 private:
  struct Server {
    std::string address;
    int pid = -1;
  };
  bool start_server(const std::string& script, Server* server);
  std::string fresh_loopback_address();

  std::string dir_;
  std::string resolv_conf_path_;
  std::vector<Server> servers_;
  std::string dead_address_;
  unsigned generation_ = 0;
};

}  // namespace dnstest
