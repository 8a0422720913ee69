// main() of the dns tests: enter the private mount namespace and start the
// test DNS servers before anything else runs, then the tests.
//
//   dns_tests SERVER_SCRIPT [--gai-conf FILE] [gtest flags]
//
// Exits 77 (skipped) only when the process is not root or may not create a
// mount namespace.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "dns_environment.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string server_script;
  std::string gai_conf;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--gai-conf") == 0 && i + 1 < argc) {
      gai_conf = argv[++i];
    } else if (server_script.empty()) {
      server_script = argv[i];
    } else {
      std::fprintf(stderr, "usage: %s SERVER_SCRIPT [--gai-conf FILE] [gtest flags]\n", argv[0]);
      return 2;
    }
  }
  if (server_script.empty()) {
    std::fprintf(stderr, "usage: %s SERVER_SCRIPT [--gai-conf FILE] [gtest flags]\n", argv[0]);
    return 2;
  }
  dnstest::DnsEnvironment& env = dnstest::DnsEnvironment::instance();
  if (int rc = env.enter(server_script, gai_conf); rc != 0) return rc;
  int result = RUN_ALL_TESTS();
  env.stop_servers();
  return result;
}
