// A C++ program on the standard library's threads: std::thread,
// std::mutex, std::condition_variable (wait, wait_for on the steady clock,
// notify_one/notify_all), std::this_thread::sleep_for, std::call_once and
// thread_local-free per-thread work. Under the preload it runs green: while
// its 200 workers block in condition_variable::wait the process has at most
// GREENHUB_HUBS + kRuntimeThreads OS threads (see os_threads.h).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "os_threads.h"

using namespace std::chrono_literals;

namespace {

// A bounded queue on mutex + condition variables.
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}
  void push(int v) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(v);
    not_empty_.notify_one();
  }
  // Pops with a timeout on the steady clock; false when closed and empty.
  bool pop(int* v) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (!items_.empty()) break;
      if (closed_) return false;
      not_empty_.wait_for(lock, 5ms);  // timeouts just re-check
    }
    *v = items_.front();
    items_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<int> items_;
  size_t capacity_;
  bool closed_ = false;
};

int producers_and_consumers() {
  std::printf("== producers and consumers\n");
  BoundedQueue queue(16);
  std::atomic<long> sum{0};
  std::atomic<int> count{0};
  std::vector<std::thread> consumers, producers;
  for (int i = 0; i < 4; ++i) {
    consumers.emplace_back([&] {
      int v;
      while (queue.pop(&v)) {
        sum += v;
        ++count;
      }
    });
  }
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < 2500; ++i) {
        queue.push(p * 2500 + i);
        if (i % 500 == 0) std::this_thread::sleep_for(1ms);
      }
    });
  }
  for (auto& t : producers) t.join();
  queue.close();
  for (auto& t : consumers) t.join();
  std::printf("consumed %d, sum %ld (expected %ld)\n", count.load(), sum.load(), 10000L * 9999 / 2);
  return 0;
}

int timeouts() {
  std::printf("== wait_for and sleep_for\n");
  std::mutex m;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(m);
  auto start = std::chrono::steady_clock::now();
  bool ok = cv.wait_for(lock, 30ms, [] { return false; });
  auto waited = std::chrono::steady_clock::now() - start;
  std::printf("wait_for 30 ms with a false predicate -> %s, waited the 30 ms: %s\n", ok ? "true" : "false",
              waited >= 29ms ? "yes" : "no");
  std::cv_status status = cv.wait_until(lock, std::chrono::steady_clock::now() - 1s);
  std::printf("wait_until a past time -> %s\n", status == std::cv_status::timeout ? "timeout" : "no_timeout");
  lock.unlock();
  start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(25ms);
  std::printf("sleep_for 25 ms slept it: %s\n",
              std::chrono::steady_clock::now() - start >= 24ms ? "yes" : "no");
  return 0;
}

int many_blocked_workers() {
  std::printf("== 200 workers blocked in condition_variable::wait\n");
  constexpr int kWorkers = 200;
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  int waiting = 0;
  std::atomic<int> done{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&] {
      std::unique_lock<std::mutex> lock(m);
      ++waiting;
      cv.wait(lock, [&] { return go; });
      ++done;
    });
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(m);
      if (waiting == kWorkers) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(20ms);
  int failed = check_os_threads("std::thread workers in cv.wait", kWorkers);
  {
    std::lock_guard<std::mutex> lock(m);
    go = true;
  }
  cv.notify_all();
  for (auto& t : workers) t.join();
  std::printf("all %d workers finished: %s\n", kWorkers, done == kWorkers ? "yes" : "no");
  return failed;
}

int once_and_ids() {
  std::printf("== call_once and thread ids\n");
  std::once_flag flag;
  std::atomic<int> runs{0};
  std::vector<std::thread> threads;
  std::mutex ids_mutex;
  std::vector<std::thread::id> ids;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      std::call_once(flag, [&] {
        std::this_thread::sleep_for(10ms);
        ++runs;
      });
      std::lock_guard<std::mutex> lock(ids_mutex);
      ids.push_back(std::this_thread::get_id());
    });
  }
  for (auto& t : threads) t.join();
  bool distinct = true;
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = i + 1; j < ids.size(); ++j) distinct &= ids[i] != ids[j];
    distinct &= ids[i] != std::this_thread::get_id();
  }
  std::printf("call_once ran %d time(s); thread ids distinct: %s\n", runs.load(), distinct ? "yes" : "no");
  return 0;
}

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  int failed = 0;
  failed |= producers_and_consumers();
  failed |= timeouts();
  failed |= many_blocked_workers();
  failed |= once_and_ids();
  return failed;
}
