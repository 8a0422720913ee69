// Descriptor lifecycle and flags: close, close_range, closefrom, dup, dup2,
// dup3, fcntl, ioctl, fclose (and glibc's __close, __close_nocancel,
// __dup2, __fcntl, fcntl64, __libc_fcntl64).
//
// None of these block (but close is a cancellation point). The preload
// keeps its table true (fd_table.hpp):
//   - before a descriptor is closed or replaced (close, close_range, dup2
//     and dup3 onto it, fclose), FdTable::closing moves the green threads
//     waiting on it to a private duplicate of its file, as the kernel keeps
//     a blocked call's file alive, and drops it from the hubs' pollers;
//   - dups inherit what is known of the original;
//   - F_GETFL, F_SETFL and FIONBIO show and set the program's O_NONBLOCK:
//     on a descriptor the preload altered (a listening socket, one being
//     connected), the kernel's flag stays set and the program's is the
//     shadow;
//   - the program cannot close the runtime's private descriptors: close
//     answers EBADF, as for a closed number, close_range skips them, dup2
//     onto one fails with EBADF (see fd_table.hpp); libev closing its own
//     is let through.
#undef _FILE_OFFSET_BITS  // fcntl and fcntl64 are both defined here
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "fd_table.hpp"
#include "green_io.hpp"
#include "program_memory.hpp"
#include "real.hpp"
#include "runtime.hpp"

using namespace greenhub;
using namespace greenhub::preload;
using namespace greenhub::preload::fd_bits;

namespace {

int fail_ebadf() {
  errno = EBADF;
  return -1;
}

void green_cancellation_point() {
  if (green_hub() != nullptr) cancellation_point();
}

// `caller`: the return address of the interposed close, to let libev
// close its own descriptors.
int close_fd(int fd, int (*real_close)(int), const void* caller) {
  if (FdTable::is_private(fd)) {
    if (!FdTable::called_by_event_loop(caller)) return fail_ebadf();
    FdTable::release_runtime(fd);
    return real_close(fd);
  }
  FdTable::closing(fd);
  return real_close(fd);
}

int replace_fd(int oldfd, int newfd, int flags, bool is_dup3) {
  if (FdTable::is_private(newfd)) return fail_ebadf();
  auto real = [&] {
    return is_dup3 ? GREENHUB_REAL(dup3)(oldfd, newfd, flags) : GREENHUB_REAL(dup2)(oldfd, newfd);
  };
  if (oldfd == newfd || (is_dup3 && (flags & ~O_CLOEXEC) != 0)) return real();
  // Only a valid oldfd replaces newfd: do not disturb newfd's waiters
  // for a call that will fail.
  const int saved = errno;
  if (GREENHUB_REAL(fcntl)(oldfd, F_GETFD) < 0) {
    errno = saved;
    return real();
  }
  errno = saved;
  FdTable::closing(newfd);
  int r = real();
  if (r >= 0) FdTable::duplicated(oldfd, newfd);
  return r;
}

int do_fcntl(int fd, int cmd, void* arg) {
  auto real = [&](void* a) { return GREENHUB_REAL(fcntl)(fd, cmd, a); };
  switch (cmd) {
    case F_GETFL: {
      int r = real(arg);
      FdState* e = FdTable::find(fd);
      if (r >= 0 && e != nullptr && e->has(kAltered)) {
        r = (r & ~O_NONBLOCK) | (e->has(kShadowNonblock) ? O_NONBLOCK : 0);
      }
      return r;
    }
    case F_SETFL: {
      FdState* e = FdTable::get(fd);
      const long value = reinterpret_cast<long>(arg);
      int r;
      if (e != nullptr && e->has(kAltered)) {
        r = real(reinterpret_cast<void*>(value | O_NONBLOCK));
      } else {
        r = real(arg);
      }
      if (r == 0 && e != nullptr) FdTable::set_program_nonblock(fd, *e, (value & O_NONBLOCK) != 0);
      return r;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int r = real(arg);
      if (r >= 0) FdTable::duplicated(fd, r);
      return r;
    }
    case F_SETLKW:
    case F_OFD_SETLKW:
      green_cancellation_point();
      return real(arg);
    default:
      return real(arg);
  }
}

}  // namespace

extern "C" {

int close(int fd) {
  green_cancellation_point();
  return close_fd(fd, GREENHUB_REAL(close), __builtin_return_address(0));
}

int __close(int fd) {
  green_cancellation_point();
  return close_fd(fd, GREENHUB_REAL(close), __builtin_return_address(0));
}

int __close_nocancel(int fd) {
  return close_fd(fd, GREENHUB_REAL_TYPED(int(int), "__close_nocancel"), __builtin_return_address(0));
}

int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  if (first > last || (flags & CLOSE_RANGE_CLOEXEC)) {
    // Nothing closes (EINVAL, or only close-on-exec marks: private
    // descriptors have that mark already).
    return GREENHUB_REAL(close_range)(first, last, flags);
  }
  const int known = FdTable::limit();
  const unsigned top = std::min<unsigned>(last, known > 0 ? static_cast<unsigned>(known - 1) : 0);
  for (unsigned fd = first; fd <= top && fd <= INT_MAX && known > 0; ++fd) {
    if (!FdTable::is_private(static_cast<int>(fd))) FdTable::closing(static_cast<int>(fd));
  }
  int result = 0;
  FdTable::for_each_public_range(first, last, [&](unsigned lo, unsigned hi) {
    if (GREENHUB_REAL(close_range)(lo, hi, flags) != 0 && result == 0) result = -1;
  });
  return result;
}

void closefrom(int lowfd) noexcept {
  if (lowfd < 0) lowfd = 0;
  close_range(static_cast<unsigned>(lowfd), ~0u, 0);
}

int dup(int fd) noexcept {
  int r = GREENHUB_REAL(dup)(fd);
  if (r >= 0) FdTable::duplicated(fd, r);
  return r;
}

int dup2(int oldfd, int newfd) noexcept { return replace_fd(oldfd, newfd, 0, false); }

int __dup2(int oldfd, int newfd) noexcept { return dup2(oldfd, newfd); }

int dup3(int oldfd, int newfd, int flags) noexcept { return replace_fd(oldfd, newfd, flags, true); }

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return do_fcntl(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return do_fcntl(fd, cmd, arg);
}

int __fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return do_fcntl(fd, cmd, arg);
}

int __libc_fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return do_fcntl(fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (request != FIONBIO) return GREENHUB_REAL(ioctl)(fd, request, arg);
  FdState* e = FdTable::get(fd);
  int value = 0;
  if (e != nullptr && e->has(kAltered)) {
    // The kernel's flag stays set; the program's is the shadow.
    if (!copy_from_program(&value, arg, sizeof value)) {
      errno = EFAULT;
      return -1;
    }
    int on = 1;
    int r = GREENHUB_REAL(ioctl)(fd, FIONBIO, &on);  // validates fd as the kernel would
    if (r == 0) FdTable::set_program_nonblock(fd, *e, value != 0);
    return r;
  }
  int r = GREENHUB_REAL(ioctl)(fd, FIONBIO, arg);
  if (r == 0 && e != nullptr && copy_from_program(&value, arg, sizeof value)) {
    FdTable::set_program_nonblock(fd, *e, value != 0);
  }
  return r;
}

int fclose(FILE* stream) {
  const int saved = errno;
  int fd = stream != nullptr ? fileno(stream) : -1;
  errno = saved;
  if (fd >= 0 && !FdTable::is_private(fd)) FdTable::closing(fd);
  return GREENHUB_REAL(fclose)(stream);
}

}  // extern "C"
