// dns_sandbox: runs a command inside the dns tests' world (see
// dns_environment.hpp): a private mount namespace whose /etc/resolv.conf,
// /etc/hosts, /etc/nsswitch.conf and /etc/host.conf are the tests' own, and
// the test DNS servers on loopback. Used by the preload's DNS tests and the
// DNS benchmark, whose programs (plain C fixtures, /usr/bin/python3, curl)
// must resolve against the test server without knowing it.
//
//   dns_sandbox SERVER_SCRIPT [--resolv-options "OPT ..."] -- COMMAND [ARGS...]
//
// resolv.conf is the standard one (the primary server, search sub.test
// test, options timeout:1 attempts:1) plus an "options" line with
// --resolv-options, which overrides those (glibc reads options lines in
// order). The command runs with DNS_TEST_SERVER set to the primary
// server's address. Exits with the command's status (128 + signal if it
// was killed), 77 (skipped) where the environment cannot be made (not
// root, no mount namespace), 1 on any other failure.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dns_environment.hpp"

namespace {

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s SERVER_SCRIPT [--resolv-options \"OPT ...\"] -- COMMAND [ARGS...]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string server_script;
  std::string resolv_options;
  int command_at = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      command_at = i + 1;
      break;
    }
    if (std::strcmp(argv[i], "--resolv-options") == 0 && i + 1 < argc) {
      resolv_options = argv[++i];
    } else if (server_script.empty()) {
      server_script = argv[i];
    } else {
      return usage(argv[0]);
    }
  }
  if (server_script.empty() || command_at < 0 || command_at >= argc) return usage(argv[0]);

  dnstest::DnsEnvironment& env = dnstest::DnsEnvironment::instance();
  if (int rc = env.enter(server_script, ""); rc != 0) return rc;
  if (!resolv_options.empty()) env.use_standard_resolv_conf("options " + resolv_options + "\n");
  setenv("DNS_TEST_SERVER", env.primary().c_str(), 1);

  const pid_t child = fork();
  if (child < 0) {
    std::perror("dns_sandbox: fork");
    env.stop_servers();
    return 1;
  }
  if (child == 0) {
    execvp(argv[command_at], argv + command_at);
    std::fprintf(stderr, "dns_sandbox: cannot run %s: %s\n", argv[command_at],
                 std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  env.stop_servers();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
