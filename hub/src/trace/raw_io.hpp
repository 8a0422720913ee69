// System calls of the trace writer, made without passing through any
// function the preload interposes (so that writing the trace neither goes
// green nor shows up in the per-call counters). x86-64 Linux.
#pragma once

#include <sys/syscall.h>

namespace greenhub::trace::raw {

inline long syscall4(long n, long a1, long a2, long a3, long a4) {
  long ret;
  register long r10 __asm__("r10") = a4;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;  // -errno on failure
}

inline long write(int fd, const void* buf, unsigned long n) {
  return syscall4(SYS_write, fd, reinterpret_cast<long>(buf), static_cast<long>(n), 0);
}
inline long read(int fd, void* buf, unsigned long n) {
  return syscall4(SYS_read, fd, reinterpret_cast<long>(buf), static_cast<long>(n), 0);
}
inline long kill(int pid, int sig) { return syscall4(SYS_kill, pid, sig, 0, 0); }
inline long close(int fd) { return syscall4(SYS_close, fd, 0, 0, 0); }
inline long openat(int dirfd, const char* path, int flags, int mode) {
  return syscall4(SYS_openat, dirfd, reinterpret_cast<long>(path), flags, mode);
}
inline long fcntl(int fd, int cmd, long arg) { return syscall4(SYS_fcntl, fd, cmd, arg, 0); }
inline long nanosleep(const void* ts) {
  return syscall4(SYS_nanosleep, reinterpret_cast<long>(ts), 0, 0, 0);
}

}  // namespace greenhub::trace::raw
