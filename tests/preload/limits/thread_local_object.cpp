// A C++ thread_local object is constructed once per OS thread and destroyed
// when that OS thread ends (README, "What is not per green thread").
//
//   thread_local_object native|green     (green: GREENHUB_HUBS=1)
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace {

std::atomic<int> constructed{0}, destroyed{0};

struct PerThread {
  int uses = 0;
  PerThread() { constructed++; }
  ~PerThread() { destroyed++; }
};

thread_local PerThread per_thread;

void* touch(void*) {
  per_thread.uses++;
  usleep(10000);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const bool green = std::strcmp(argv[1], "green") == 0;
  pthread_t threads[8];
  for (auto& t : threads) pthread_create(&t, nullptr, touch, nullptr);
  for (auto& t : threads) pthread_join(t, nullptr);
  const int made = constructed.load(), gone = destroyed.load();
  std::printf("8 threads: %d constructions, %d destructions before main returns\n", made, gone);
  // Natively one object per thread, destroyed as each ends; with one hub,
  // one object for the one OS thread, alive until the process exits.
  const bool ok = green ? made == 1 && gone == 0 : made == 8 && gone == 8;
  std::printf("%s\n", ok ? "as documented" : "NOT AS DOCUMENTED");
  return ok ? 0 : 1;
}
