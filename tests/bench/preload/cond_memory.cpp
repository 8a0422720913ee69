// Memory and OS threads of kThreads threads blocked in pthread_cond_wait:
// the same plain pthread program (default thread attributes) natively and
// under LD_PRELOAD.
//
//   rss_kib_per_thread    growth of VmRSS from before the first
//                         pthread_create to when every thread waits, per
//                         thread: stacks' resident pages, glibc's thread
//                         descriptors or the green threads' objects.
//   pte_kib_per_thread    growth of VmPTE (page tables, not in VmRSS).
//   kernel_stack_kib_per_thread  the kernel stacks of the OS threads the
//                         process gained, 16 KiB each on x86-64 (THREAD_SIZE;
//                         kernel memory, not in VmRSS): a native thread has
//                         one, a green thread none.
//   total_kib_per_thread  the sum of the three.
//   os_threads            OS threads of the process while all wait
//                         (/proc/self/task).
//
// Smoke mode checks that every thread waited and then finished, and, under
// the preload, that the OS threads stayed under GREENHUB_HUBS + 2.
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "../common/measure.hpp"

namespace {

constexpr int64_t kKernelStackBytes = 16 * 1024;

pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
bool go = false;
long waiting = 0;
long finished = 0;

void* waiter(void*) {
  pthread_mutex_lock(&mutex);
  ++waiting;
  while (!go) pthread_cond_wait(&cond, &mutex);
  ++finished;
  pthread_mutex_unlock(&mutex);
  return nullptr;
}

int os_threads() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

long waiting_now() {
  pthread_mutex_lock(&mutex);
  long n = waiting;
  pthread_mutex_unlock(&mutex);
  return n;
}

int preload_bound() {
  const char* preload = std::getenv("LD_PRELOAD");
  if (preload == nullptr || std::strstr(preload, "greenhub_preload") == nullptr) return 0;
  const char* hubs = std::getenv("GREENHUB_HUBS");
  if (hubs != nullptr && *hubs != '\0') return std::atoi(hubs) + 2;
  cpu_set_t set;
  CPU_ZERO(&set);
  return (sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1) + 2;
}

}  // namespace

int main(int argc, char** argv) {
  const bool smoke = bench::smoke_mode(argc, argv);
  const long threads = smoke ? 500 : 10000;
  bench::Checks checks;
  std::vector<pthread_t> handles(static_cast<size_t>(threads));  // allocated and touched first
  const int threads_before = os_threads();
  const int64_t rss_before = bench::status_bytes("VmRSS");
  const int64_t pte_before = bench::status_bytes("VmPTE");
  for (long i = 0; i < threads; ++i) {
    if (int rc = pthread_create(&handles[static_cast<size_t>(i)], nullptr, waiter, nullptr); rc != 0) {
      std::fprintf(stderr, "pthread_create %ld: %s\n", i, std::strerror(rc));
      return 1;
    }
  }
  const timespec one_ms{0, 1000000};
  while (waiting_now() < threads) nanosleep(&one_ms, nullptr);
  const timespec settle{0, 50000000};
  nanosleep(&settle, nullptr);  // the last ones reach pthread_cond_wait
  const int threads_during = os_threads();
  const int64_t rss_during = bench::status_bytes("VmRSS");
  const int64_t pte_during = bench::status_bytes("VmPTE");

  pthread_mutex_lock(&mutex);
  go = true;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&mutex);
  for (pthread_t t : handles) pthread_join(t, nullptr);

  const double n = static_cast<double>(threads);
  const double rss = static_cast<double>(rss_during - rss_before) / 1024.0 / n;
  const double pte = static_cast<double>(pte_during - pte_before) / 1024.0 / n;
  const double kstack =
      static_cast<double>((threads_during - threads_before) * kKernelStackBytes) / 1024.0 / n;
  checks.expect(finished == threads, "every waiter was woken and finished");
  checks.expect(rss_before > 0 && rss_during > 0, "/proc/self/status was readable");
  if (int bound = preload_bound(); bound != 0) {
    checks.expect(threads_during <= bound, "under the preload, at most GREENHUB_HUBS + 2 OS threads");
  }
  std::printf("# %ld threads blocked in pthread_cond_wait (default attributes)\n", threads);
  bench::report("cond_memory.threads", n);
  bench::report("cond_memory.os_threads", threads_during);
  bench::report("cond_memory.rss_kib_per_thread", rss);
  bench::report("cond_memory.pte_kib_per_thread", pte);
  bench::report("cond_memory.kernel_stack_kib_per_thread", kstack);
  bench::report("cond_memory.total_kib_per_thread", rss + pte + kstack);
  return checks.exit_status();
}
