// System calls made by the runtime itself without passing through any
// function the preload interposes (syscall(), futex users, sched_yield).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

namespace greenhub::preload {

inline long raw_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;  // -errno on failure
}

// Waits while *word == expected, until woken or the absolute deadline on
// `clock` (CLOCK_MONOTONIC or CLOCK_REALTIME; null: forever).
// Returns 0, or -ETIMEDOUT / -EAGAIN / -EINTR.
inline long futex_wait_abs(const uint32_t* word, uint32_t expected, const timespec* deadline,
                           clockid_t clock) {
  int op = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG;
  if (deadline != nullptr && clock == CLOCK_REALTIME) op |= FUTEX_CLOCK_REALTIME;
  return raw_syscall6(SYS_futex, reinterpret_cast<long>(word), op, static_cast<long>(expected),
                      reinterpret_cast<long>(deadline), 0, static_cast<long>(FUTEX_BITSET_MATCH_ANY));
}

inline long futex_wake(const uint32_t* word, int count) {
  return raw_syscall6(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
                      count, 0, 0, 0);
}

inline long raw_gettid() { return raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0); }

}  // namespace greenhub::preload
