// SpinLock: a lock for the few critical sections that cross OS threads
// inside the runtime (the hub's remote queue, the stack pool, the preload's
// parking lot). It never calls into pthreads or any other function the
// preload interposes, so the runtime cannot recurse into itself through
// pthread_mutex_lock. Critical sections under it are a handful of pointer
// updates; under contention it backs off with pause, then with a raw
// sched_yield system call (never the interposed sched_yield).
#pragma once

#include <sys/syscall.h>

#include <atomic>

namespace greenhub {

class SpinLock {
 public:
  void lock() noexcept {
    for (unsigned spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
          __builtin_ia32_pause();
        } else {
          raw_sched_yield();
          spins = 0;
        }
      }
    }
  }
  bool try_lock() noexcept { return !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }
  // Whether some thread holds the lock now (a hint: for resetting state in
  // a forked child without writing to pages that need no change).
  bool is_locked() const noexcept { return locked_.load(std::memory_order_relaxed); }

 private:
  static void raw_sched_yield() noexcept {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"(SYS_sched_yield) : "rcx", "r11", "memory");
    (void)ret;
  }
  std::atomic<bool> locked_{false};
};

}  // namespace greenhub
