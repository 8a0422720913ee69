// HostsConfig: how glibc would look a host up on this system, as far as it
// decides which resolver may answer — the "hosts" line of
// /etc/nsswitch.conf and what else glibc consults before or around it.
//
// The asynchronous resolver reproduces glibc's lookup for a hosts line made
// only of the built-in sources `files` and `dns`, with their default
// actions (the common "hosts: files dns"). Anything else — another module
// (mdns4_minimal, myhostname, resolve, ldap...), an [ACTION] bracket, a
// running nscd (glibc asks it first), host.conf reordering or trimming,
// HOSTALIASES — is glibc's alone: reason() says why, and those lookups go
// to the thread resolver.
//
// Re-read when /etc/nsswitch.conf or /etc/host.conf change, as glibc
// (2.33 and later) reloads nsswitch.conf; cached per OS thread.
#pragma once

#include <memory>
#include <vector>

namespace greenhub::detail {

enum class HostsSource : unsigned char { kFiles, kDns };

class HostsConfig {
 public:
  static std::shared_ptr<const HostsConfig> current();

  // The sources in order, when the asynchronous resolver can follow them.
  const std::vector<HostsSource>& sources() const { return sources_; }
  // nullptr when the asynchronous resolver reproduces glibc here; else why
  // it does not (a static string).
  const char* reason() const { return reason_; }

 private:
  friend struct HostsConfigLoader;
  std::vector<HostsSource> sources_;
  const char* reason_ = nullptr;
};

}  // namespace greenhub::detail
