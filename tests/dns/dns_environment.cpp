#include "dns_environment.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

namespace dnstest {

namespace {

constexpr const char* kHosts =
    "# greenhub dns tests: /etc/hosts\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "192.0.2.200\tfilehost.test filealias\n"
    "192.0.2.201\tfilehost.test other.test   # second line of a name (host.conf multi)\n"
    "2001:db8::200\tfilehost.test\n"
    "10.9.8.7\tonlyfile\n"
    "192.0.2.210\tfile-a.test\n"
    "::ffff:192.0.2.211\tmapped-file.test\n";

constexpr const char* kNsswitch =
    "passwd: files\n"
    "group: files\n"
    "shadow: files\n"
    "hosts: files dns\n"
    "networks: files\n"
    "protocols: files\n"
    "services: files\n";

constexpr const char* kHostConf = "multi on\n";

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

bool bind(const std::string& source, const char* target) {
  if (mount(source.c_str(), target, nullptr, MS_BIND, nullptr) == 0) return true;
  std::fprintf(stderr, "dns tests: bind mount %s over %s: %s\n", source.c_str(), target,
               std::strerror(errno));
  return false;
}

}  // namespace

DnsEnvironment& DnsEnvironment::instance() {
  static DnsEnvironment* environment = new DnsEnvironment();
  return *environment;
}

std::string DnsEnvironment::fresh_loopback_address() {
  static std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> byte(1, 254);
  return "127.53." + std::to_string(byte(random)) + "." + std::to_string(byte(random));
}

bool DnsEnvironment::start_server(const std::string& script, Server* server) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::string address = fresh_loopback_address();
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return false;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      // meson's MALLOC_PERTURB_ makes Python fill each 256 KiB datagram
      // buffer asyncio allocates: the server would crawl. It is not what
      // these tests test.
      unsetenv("MALLOC_PERTURB_");
      dup2(out[1], STDOUT_FILENO);
      execl("/usr/bin/python3", "python3", script.c_str(), address.c_str(), "--port", "53",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string text;
    pollfd p{out[0], POLLIN, 0};
    while (text.find('\n') == std::string::npos && poll(&p, 1, 15000) > 0) {
      char buf[64];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    if (text.rfind("READY", 0) == 0) {
      server->address = address;
      server->pid = pid;
      return true;
    }
    int status = 0;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 3)) {
      std::fprintf(stderr, "dns tests: the test DNS server did not start (%s)\n", script.c_str());
      return false;
    }
  }
  return false;
}

int DnsEnvironment::enter(const std::string& server_script, const std::string& gai_conf) {
  if (geteuid() != 0) {
    std::printf("SKIP: the dns tests need root (a private mount namespace)\n");
    return 77;
  }
  if (unshare(CLONE_NEWNS) != 0) {
    std::printf("SKIP: unshare(CLONE_NEWNS): %s\n", std::strerror(errno));
    return errno == EPERM || errno == ENOSYS ? 77 : 1;
  }
  if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::fprintf(stderr, "dns tests: making / private: %s\n", std::strerror(errno));
    return 1;
  }
  // The environment variables glibc's resolver reads.
  for (const char* name :
       {"HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "RESOLV_HOST_CONF", "RESOLV_MULTI",
        "RESOLV_REORDER", "RESOLV_ADD_TRIM_DOMAINS", "RESOLV_OVERRIDE_TRIM_DOMAINS"}) {
    unsetenv(name);
  }
  char dir[] = "/tmp/greenhub-dns-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  dir_ = dir;
  resolv_conf_path_ = dir_ + "/resolv.conf";

  servers_.resize(2);
  if (!start_server(server_script, &servers_[0]) || !start_server(server_script, &servers_[1])) {
    return 1;
  }
  dead_address_ = fresh_loopback_address();
  while (dead_address_ == primary() || dead_address_ == secondary()) {
    dead_address_ = fresh_loopback_address();
  }

  std::string gai_text;
  if (!gai_conf.empty()) {
    std::ifstream in(gai_conf);
    gai_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in) {
      std::fprintf(stderr, "dns tests: cannot read %s\n", gai_conf.c_str());
      return 1;
    }
  }
  if (!write_file(dir_ + "/hosts", kHosts) || !write_file(dir_ + "/nsswitch.conf", kNsswitch) ||
      !write_file(dir_ + "/host.conf", kHostConf) || !write_file(dir_ + "/gai.conf", gai_text)) {
    return 1;
  }
  use_standard_resolv_conf();
  if (!bind(resolv_conf_path_, "/etc/resolv.conf") || !bind(dir_ + "/hosts", "/etc/hosts") ||
      !bind(dir_ + "/nsswitch.conf", "/etc/nsswitch.conf") ||
      !bind(dir_ + "/host.conf", "/etc/host.conf")) {
    return 1;
  }
  struct stat st;
  if (stat("/etc/gai.conf", &st) == 0) {
    if (!bind(dir_ + "/gai.conf", "/etc/gai.conf")) return 1;
  } else if (!gai_conf.empty()) {
    std::fprintf(stderr, "dns tests: no /etc/gai.conf to bind a test file over\n");
    return 1;
  }
  // A running nscd would answer glibc from outside the namespace.
  for (const char* nscd : {"/var/run/nscd", "/run/nscd"}) {
    if (stat(nscd, &st) == 0 && S_ISDIR(st.st_mode)) {
      std::string empty = dir_ + "/nscd";
      mkdir(empty.c_str(), 0755);
      if (!bind(empty, nscd)) return 1;
    }
  }
  return 0;
}

void DnsEnvironment::stop_servers() {
  for (Server& s : servers_) {
    if (s.pid > 0) {
      kill(s.pid, SIGTERM);
      waitpid(s.pid, nullptr, 0);
      s.pid = -1;
    }
  }
  if (!dir_.empty()) {
    for (const char* f : {"resolv.conf", "hosts", "nsswitch.conf", "host.conf", "gai.conf"}) {
      unlink((dir_ + "/" + f).c_str());
    }
    rmdir((dir_ + "/nscd").c_str());
    rmdir(dir_.c_str());
  }
}

void DnsEnvironment::write_resolv_conf(const std::string& text) {
  // glibc (and greenhub) notice a change by size, inode, mtime and ctime;
  // two writes within one tick of the kernel's coarse file clock keep the
  // same times and the same inode. So consecutive writes differ in size: the
  // generation comment is one byte longer every other time.
  ++generation_;
  std::string full = "# generation " + std::to_string(generation_) +
                     (generation_ % 2 != 0 ? " " : "") + "\n" + text;
  int fd = open(resolv_conf_path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) fd = open(resolv_conf_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "dns tests: writing resolv.conf: %s\n", std::strerror(errno));
    std::abort();
  }
  ssize_t n = write(fd, full.data(), full.size());
  close(fd);
  if (n != static_cast<ssize_t>(full.size())) std::abort();
}

void DnsEnvironment::use_standard_resolv_conf(const std::string& extra) {
  write_resolv_conf("nameserver " + primary() +
                    "\nsearch sub.test test\noptions timeout:1 attempts:1\n" + extra);
}

}  // namespace dnstest
