// Reading and writing memory the program passed in without trusting it: a
// bad pointer must fail the call with EFAULT, as the kernel's copy would,
// not crash the preload.
#pragma once

#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "raw_syscall.hpp"

namespace greenhub::preload {

// Moves n bytes between the preload's `local` and the program's `remote`
// (process_vm_readv/writev on ourselves). False if the program's bytes are
// not accessible.
inline bool move_program_bytes(bool to_program, void* local, void* remote, size_t n) {
  if (n == 0) return true;
  const int saved = errno;
  iovec mine{local, n};
  iovec theirs{remote, n};
  const pid_t self = static_cast<pid_t>(raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0));
  ssize_t r = to_program ? process_vm_writev(self, &mine, 1, &theirs, 1, 0)
                         : process_vm_readv(self, &mine, 1, &theirs, 1, 0);
  const int err = errno;
  errno = saved;
  if (r == static_cast<ssize_t>(n)) return true;
  if (r < 0 && (err == ENOSYS || err == EPERM)) {
    // Not permitted here (seccomp): trust the pointer, as libc would.
    if (to_program) std::memcpy(remote, local, n);
    else std::memcpy(local, remote, n);
    return true;
  }
  return false;
}

// Copies n bytes from the program's `src`. False if they are not readable.
inline bool copy_from_program(void* dst, const void* src, size_t n) {
  return move_program_bytes(false, dst, const_cast<void*>(src), n);
}

// Copies n bytes to the program's `dst`. False if they are not writable.
inline bool copy_to_program(void* dst, const void* src, size_t n) {
  return move_program_bytes(true, const_cast<void*>(src), dst, n);
}

}  // namespace greenhub::preload
