// Concurrent name lookups against a server that delays every answer by
// 200 ms: 1,000 getaddrinfo calls at once (AF_UNSPEC, so an A and an AAAA
// query each), resolved
//
//   ares     by greenhub's asynchronous resolver, from 1,000 greenlets on
//            one hub (one OS thread);
//   thread   by greenhub's thread resolver (glibc on
//            ThreadPool::default_pool()), from 1,000 greenlets: the pool's
//            size runs at once, the rest queue;
//   native   by glibc, from 1,000 OS threads.
//
// All three in the same run, against the same test DNS server (the dns
// tests' dns_test_server.py, started in a private mount namespace where
// /etc/resolv.conf points at it: root is needed, as for the dns tests).
//
// Reported (output protocol of ../common/measure.hpp):
//   dns.ares_wall_ms, dns.thread_wall_ms, dns.native_wall_ms  wall time of
//       the 1,000 lookups, from the first start to the last answer
//   dns.ares_cpu_ms, dns.thread_cpu_ms, dns.native_cpu_ms  CPU time (user +
//       system) the process spent on them, all its threads together
//   dns.thread_pool_size  the thread resolver's concurrency
//   dns.ares_os_threads   OS threads of the process during the ares run
//   dns.server_delay_ms   the delay of each answer
//
//   bench_dns_lookups SERVER_SCRIPT [--smoke]
// --smoke runs 100 lookups per resolver and checks that every lookup
// succeeded; it exits 77 (skipped) where a mount namespace is not allowed.
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../../dns/dns_environment.hpp"
#include "../common/measure.hpp"
#include "greenhub/greenhub.hpp"
#include "greenhub/resolver.hpp"

namespace gh = greenhub;

namespace {

constexpr int kDelayMs = 200;

std::string name_for(const char* run, int i) {
  return std::string(run) + std::to_string(i) + ".d" + std::to_string(kDelayMs) + ".bulk.test";
}

bool lookup(gh::Resolver* resolver, const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = resolver != nullptr ? resolver->getaddrinfo(name.c_str(), nullptr, &hints, &list)
                               : ::getaddrinfo(name.c_str(), nullptr, &hints, &list);
  if (rc == 0) ::freeaddrinfo(list);
  return rc == 0;
}

int os_threads() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

struct Run {
  double wall_ms = 0;
  double cpu_ms = 0;  // user + system CPU of the whole process
  int ok = 0;
  int threads_seen = 0;
};

double process_cpu_ms() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

Run green_run(gh::Resolver& resolver, const char* tag, int n) {
  Run run;
  std::vector<gh::Greenlet<bool>> greenlets;
  greenlets.reserve(static_cast<size_t>(n));
  const double cpu_start = process_cpu_ms();
  const int64_t start = bench::now_ns();
  for (int i = 0; i < n; ++i) {
    greenlets.push_back(gh::spawn([&resolver, &run, tag, i] {
      bool ok = lookup(&resolver, name_for(tag, i));
      if (i % 100 == 0) run.threads_seen = std::max(run.threads_seen, os_threads());
      return ok;
    }));
  }
  for (auto& g : greenlets) run.ok += g.get() ? 1 : 0;
  run.wall_ms = static_cast<double>(bench::now_ns() - start) / 1e6;
  run.cpu_ms = process_cpu_ms() - cpu_start;
  return run;
}

struct ThreadArg {
  const char* tag;
  int index;
  std::atomic<int>* ok;
};

void* native_lookup(void* p) {
  auto* arg = static_cast<ThreadArg*>(p);
  if (lookup(nullptr, name_for(arg->tag, arg->index))) arg->ok->fetch_add(1);
  return nullptr;
}

Run native_run(const char* tag, int n) {
  Run run;
  std::atomic<int> ok{0};
  std::vector<ThreadArg> args(static_cast<size_t>(n));
  std::vector<pthread_t> threads(static_cast<size_t>(n));
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  const double cpu_start = process_cpu_ms();
  const int64_t start = bench::now_ns();
  int started = 0;
  for (int i = 0; i < n; ++i) {
    args[static_cast<size_t>(i)] = ThreadArg{tag, i, &ok};
    if (pthread_create(&threads[static_cast<size_t>(i)], &attr, native_lookup,
                       &args[static_cast<size_t>(i)]) != 0) {
      break;
    }
    ++started;
  }
  for (int i = 0; i < started; ++i) pthread_join(threads[static_cast<size_t>(i)], nullptr);
  run.wall_ms = static_cast<double>(bench::now_ns() - start) / 1e6;
  run.cpu_ms = process_cpu_ms() - cpu_start;
  pthread_attr_destroy(&attr);
  run.ok = ok.load();
  return run;
}

void raise_open_file_limit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string script;
  bool smoke = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else if (script.empty()) {
      script = argv[i];
    } else {
      std::fprintf(stderr, "usage: %s SERVER_SCRIPT [--smoke]\n", argv[0]);
      return 2;
    }
  }
  if (script.empty()) {
    std::fprintf(stderr, "usage: %s SERVER_SCRIPT [--smoke]\n", argv[0]);
    return 2;
  }
  dnstest::DnsEnvironment& env = dnstest::DnsEnvironment::instance();
  if (int rc = env.enter(script, ""); rc != 0) return rc;
  env.write_resolv_conf("nameserver " + env.primary() + "\noptions timeout:5 attempts:2\n");
  raise_open_file_limit();

  const int n = smoke ? 100 : 1000;
  bench::Checks checks;
  const int threads_before = os_threads();
  const Run ares = green_run(gh::Resolver::ares(), "a", n);
  const Run thread = green_run(gh::Resolver::thread(), "t", n);
  const Run native = native_run("n", n);
  env.stop_servers();

  std::printf("# %d lookups at once (A and AAAA each), every answer delayed %d ms\n", n, kDelayMs);
  bench::report("dns.server_delay_ms", kDelayMs);
  bench::report("dns.lookups", n);
  bench::report("dns.ares_wall_ms", ares.wall_ms);
  bench::report("dns.thread_wall_ms", thread.wall_ms);
  bench::report("dns.native_wall_ms", native.wall_ms);
  bench::report("dns.ares_cpu_ms", ares.cpu_ms);
  bench::report("dns.thread_cpu_ms", thread.cpu_ms);
  bench::report("dns.native_cpu_ms", native.cpu_ms);
  bench::report("dns.thread_pool_size", static_cast<double>(gh::thread_resolver_concurrency()));
  bench::report("dns.ares_os_threads", ares.threads_seen);
  checks.expect(ares.ok == n, "ares: " + std::to_string(ares.ok) + " of " + std::to_string(n) +
                                  " lookups succeeded");
  checks.expect(thread.ok == n, "thread: " + std::to_string(thread.ok) + " of " +
                                    std::to_string(n) + " lookups succeeded");
  checks.expect(native.ok == n, "native: " + std::to_string(native.ok) + " of " +
                                    std::to_string(n) + " lookups succeeded");
  checks.expect(ares.threads_seen == threads_before,
                "the ares run used one OS thread (" + std::to_string(ares.threads_seen) +
                    " seen, " + std::to_string(threads_before) + " before)");
  return checks.exit_status();
}
