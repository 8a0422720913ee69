#include "runtime.hpp"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "green_thread.hpp"
#include "greenhub/spin_lock.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "signal_mask.hpp"

namespace greenhub::preload {

Config read_config_from_environment();

namespace {

Config the_config;
std::atomic<bool> ready{false};
std::vector<Hub*>* hubs = nullptr;  // hub i runs on OS thread i (0: main)
std::atomic<size_t> next_hub{0};
thread_local bool program_thread = false;
thread_local uint32_t cached_tid = 0;
thread_local bool runtime_hub_thread = false;
// Set in a child made by vfork() or _Fork(): everything goes to libc.
std::atomic<bool> runtime_disabled{false};
// Hub threads a forked child still has to start (on its first green thread).
std::atomic<size_t> hub_threads_to_restart{0};
SpinLock restart_lock;

struct HubThreadStart {
  Hub* hub = nullptr;
  std::atomic<uint32_t> ready{0};
};

void* hub_thread_main(void* raw) {
  auto* start = static_cast<HubThreadStart*>(raw);
  Hub::persist_current();
  Hub& hub = Hub::current();
  hub.set_keep_alive(true);
  runtime_hub_thread = true;
  // Process-directed signals go to the main thread, as in a program whose
  // only threads are green: hub threads block the asynchronous ones (the
  // green threads there have masks of their own: signal_mask.hpp).
  start_hub_thread_signal_mask();
  start->hub = &hub;
  start->ready.store(1, std::memory_order_release);
  futex_wake(reinterpret_cast<const uint32_t*>(&start->ready), 1);
  hub.run_forever();
  return nullptr;
}

Hub* start_hub_thread(size_t index) {
  HubThreadStart start;
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc;
  {
    RuntimeThreadScope scope;
    rc = GREENHUB_REAL(pthread_create)(&thread, &attr, hub_thread_main, &start);
  }
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    std::fprintf(stderr, "greenhub: cannot start hub thread %zu: error %d\n", index, rc);
    std::abort();
  }
  char name[32];
  std::snprintf(name, sizeof name, "greenhub-hub%zu", index % 1000);
  name[15] = '\0';
  GREENHUB_REAL(pthread_setname_np)(thread, name);
  while (start.ready.load(std::memory_order_acquire) == 0) {
    futex_wait_abs(reinterpret_cast<const uint32_t*>(&start.ready), 0, nullptr, CLOCK_MONOTONIC);
  }
  return start.hub;
}

// Runs before main(), on the main thread.
__attribute__((constructor(101))) void initialize_preload() {
  if (ready.load()) return;
  the_config = read_config_from_environment();
  if (the_config.stack_size != 0) Hub::set_default_stack_size(the_config.stack_size);
  hubs = new std::vector<Hub*>();
  Hub::persist_current();
  Hub& main_hub = Hub::current();
  main_hub.set_keep_alive(true);
  hubs->push_back(&main_hub);
  if (the_config.green_threads) {
    for (size_t i = 1; i < the_config.hubs; ++i) hubs->push_back(start_hub_thread(i));
  }
  ready.store(true, std::memory_order_release);
}

}  // namespace

const Config& config() { return the_config; }

bool initialized() {
  return ready.load(std::memory_order_acquire) && !runtime_disabled.load(std::memory_order_relaxed);
}

Hub* green_hub() {
  if (runtime_disabled.load(std::memory_order_relaxed)) return nullptr;
  Hub* hub = Hub::current_if_exists();
  if (hub == nullptr) {
    if (program_thread && initialized()) {
      Hub& own = Hub::current();
      own.set_keep_alive(true);
      return &own;
    }
    return nullptr;
  }
  if (hub->current_greenlet()->is_hub()) return nullptr;
  if (!initialized()) return nullptr;
  return hub;
}

Hub& hub_for_new_thread() {
  if (hub_threads_to_restart.load(std::memory_order_acquire) != 0) {
    std::lock_guard<SpinLock> lock(restart_lock);
    if (size_t n = hub_threads_to_restart.load(std::memory_order_relaxed); n != 0) {
      auto* restarted = new std::vector<Hub*>(*hubs);
      for (size_t i = 1; i <= n; ++i) restarted->push_back(start_hub_thread(i));
      hubs = restarted;  // the previous vector is leaked: readers may hold it
      hub_threads_to_restart.store(0, std::memory_order_release);
    }
  }
  size_t n = hubs->size();
  return *(*hubs)[next_hub.fetch_add(1, std::memory_order_relaxed) % n];
}

size_t hub_count() { return hubs != nullptr ? hubs->size() : 0; }

Hub* hub_at(size_t index) {
  std::vector<Hub*>* list = hubs;
  return list != nullptr && index < list->size() ? (*list)[index] : nullptr;
}

void mark_program_thread() { program_thread = true; }

Hub* main_hub() { return hubs != nullptr && !hubs->empty() ? (*hubs)[0] : nullptr; }

bool on_runtime_hub_thread() { return runtime_hub_thread; }

void hub_thread_blocked_signals(sigset_t* set) {
  sigfillset(set);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(set, sig);
}

void restart_hubs_in_forked_child(Hub* survivor) {
  restart_lock.unlock();
  cached_tid = 0;
  runtime_hub_thread = false;  // the forking thread is now the process's main thread
  hubs = new std::vector<Hub*>{survivor};  // the parent's list is leaked
  next_hub.store(0, std::memory_order_relaxed);
  hub_threads_to_restart.store(the_config.green_threads ? the_config.hubs - 1 : 0,
                               std::memory_order_release);
}

void disable_runtime_in_forked_child() {
  cached_tid = 0;
  runtime_hub_thread = false;
  runtime_disabled.store(true, std::memory_order_relaxed);
}

uint32_t current_owner_id() {
  if (GreenThread* t = GreenThread::current()) return t->owner_id();
  if (cached_tid == 0) cached_tid = static_cast<uint32_t>(raw_gettid());
  return cached_tid;
}

}  // namespace greenhub::preload
