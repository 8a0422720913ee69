// posix_spawn, posix_spawnp, system, __libc_system, popen, pclose.
//
// posix_spawn: libc's, except that a green thread on a runtime hub thread
// hands the program's signal mask to the child instead of its hub
// thread's (signal_mask.hpp), when the attributes do not set one.
// posix_spawn suspends the calling OS thread until the child has exec'ed
// (CLONE_VFORK), as natively: a short, bounded block of its hub.
//
// system: glibc's system() spawns /bin/sh and waits with its internal
// waitpid, which blocks the hub's OS thread for as long as the command
// runs. For a green caller it is reimplemented here with glibc's exact
// semantics (SIGINT and SIGQUIT ignored while commands run, reference-
// counted across concurrent calls; SIGCHLD blocked on the calling thread;
// the child spawned with the caller's mask and SIGINT/SIGQUIT reset unless
// they were ignored; 127 as exit status if the shell cannot be spawned,
// errno set; a cancellation kills the child with SIGKILL and reaps it
// before acting), but the green thread waits for the child on a pidfd, so
// the other green threads of its hub keep running.
//
// popen/pclose: glibc's popen (its stream, its list of popen'ed streams
// closed in later children) under the program's signal mask. glibc's
// pclose closes the pipe then waits with its internal waitpid; for a green
// caller, pclose first flushes a write stream and points the stream's
// descriptor at /dev/null (dup3), which closes the pipe as glibc would, so
// the child sees end-of-file or EPIPE; it then waits greenly for the child
// to exit (pclose is not a cancellation point in glibc) and lets glibc's
// pclose close and reap, which no longer blocks. The child's pid is read
// from glibc 2.36's popen stream (the int right after the FILE and its
// jump table) and used only if the kernel confirms it is a child of ours;
// otherwise pclose is glibc's, blocking.
//
// Not reproduced: a green system() and a glibc system() running at the
// same time in other threads keep separate reference counts for the
// SIGINT/SIGQUIT dispositions.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <utility>
#include <vector>

#include "green_thread.hpp"
#include "greenhub/spin_lock.hpp"
#include "process_wait.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"
#include "runtime.hpp"
#include "signal_mask.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

// --- posix_spawn ---------------------------------------------------------

// Attributes that give the child the program's mask, if the caller's do
// not choose one and the calling thread's mask is not the program's.
const posix_spawnattr_t* with_program_mask(const posix_spawnattr_t* attr,
                                           posix_spawnattr_t* storage) {
  if (!on_runtime_hub_thread()) return attr;
  short flags = 0;
  if (attr != nullptr) {
    posix_spawnattr_getflags(attr, &flags);
    if (flags & POSIX_SPAWN_SETSIGMASK) return attr;
    *storage = *attr;  // plain data in glibc; destroy is a no-op
  } else {
    posix_spawnattr_init(storage);
  }
  sigset_t mask;
  program_signal_mask(&mask);
  posix_spawnattr_setsigmask(storage, &mask);
  posix_spawnattr_setflags(storage, static_cast<short>(flags | POSIX_SPAWN_SETSIGMASK));
  return storage;
}

// --- system ------------------------------------------------------------

SpinLock system_lock;
int system_refs = 0;  // green system() calls running (under system_lock)
struct sigaction saved_intr, saved_quit;
// Per OS thread: green system() calls of this hub blocking SIGCHLD, and
// whether SIGCHLD was blocked before the first of them.
thread_local int sigchld_blocks = 0;
thread_local bool sigchld_was_blocked = false;

void ignore_interactive_signals(struct sigaction* intr, struct sigaction* quit) {
  struct sigaction ignore;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  std::lock_guard<SpinLock> lock(system_lock);
  if (system_refs++ == 0) {
    GREENHUB_REAL(sigaction)(SIGINT, &ignore, &saved_intr);
    GREENHUB_REAL(sigaction)(SIGQUIT, &ignore, &saved_quit);
  }
  *intr = saved_intr;
  *quit = saved_quit;
}

void restore_interactive_signals() {
  std::lock_guard<SpinLock> lock(system_lock);
  if (--system_refs == 0) {
    GREENHUB_REAL(sigaction)(SIGINT, &saved_intr, nullptr);
    GREENHUB_REAL(sigaction)(SIGQUIT, &saved_quit, nullptr);
  }
}

sigset_t only(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return set;
}

void block_sigchld() {
  if (sigchld_blocks++ > 0) return;
  sigset_t chld = only(SIGCHLD), previous;
  GREENHUB_REAL(pthread_sigmask)(SIG_BLOCK, &chld, &previous);
  sigchld_was_blocked = sigismember(&previous, SIGCHLD) == 1;
}

void unblock_sigchld() {
  if (--sigchld_blocks > 0 || sigchld_was_blocked) return;
  sigset_t chld = only(SIGCHLD);
  GREENHUB_REAL(pthread_sigmask)(SIG_UNBLOCK, &chld, nullptr);
}

// The mask the shell starts with: the caller's before system() blocked
// SIGCHLD.
void mask_for_shell(sigset_t* mask) {
  program_signal_mask(mask);
  if (!sigchld_was_blocked) sigdelset(mask, SIGCHLD);
}

pid_t reap(pid_t pid, int* status) {
  pid_t r;
  do {
    r = GREENHUB_REAL(waitpid)(pid, status, 0);
  } while (r == -1 && errno == EINTR);
  return r;
}

int green_system(Hub& hub, const char* line) {
  struct sigaction intr, quit;
  ignore_interactive_signals(&intr, &quit);
  block_sigchld();

  sigset_t reset, mask;
  sigemptyset(&reset);
  if (intr.sa_handler != SIG_IGN) sigaddset(&reset, SIGINT);
  if (quit.sa_handler != SIG_IGN) sigaddset(&reset, SIGQUIT);
  mask_for_shell(&mask);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setsigdefault(&attr, &reset);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(line),
                        nullptr};
  const int spawn_error = GREENHUB_REAL(posix_spawn)(&pid, "/bin/sh", nullptr, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);

  int status;
  if (spawn_error == 0) {
    if (wait_until_child_exits(hub, pid, true) == ChildWait::kCancelRequested) {
      // As glibc's cancellation cleanup: kill the shell, reap it, restore.
      kill(pid, SIGKILL);
      reap(pid, nullptr);
      unblock_sigchld();
      restore_interactive_signals();
      GreenThread::current()->test_cancel();
    }
    if (reap(pid, &status) != pid) status = -1;
  } else {
    // POSIX: as if the shell had terminated with _exit(127).
    status = W_EXITCODE(127, 0);
  }
  const int saved_errno = errno;
  unblock_sigchld();
  restore_interactive_signals();
  errno = spawn_error != 0 ? spawn_error : saved_errno;
  return status;
}

// --- popen -------------------------------------------------------------

struct PopenChild {
  FILE* stream = nullptr;
  pid_t pid = 0;
  bool writing = false;
};
SpinLock popen_lock;
std::vector<PopenChild>* popen_children = nullptr;  // under popen_lock; never destroyed

// glibc 2.36's popen stream: struct _IO_proc_file { struct _IO_FILE_plus
// file; pid_t pid; ... }, where _IO_FILE_plus is a FILE and a jump table
// pointer.
constexpr size_t kProcFilePidOffset = sizeof(FILE) + sizeof(void*);

bool is_waitable_child(pid_t pid) {
  if (pid <= 0) return false;
  siginfo_t info;
  memset(&info, 0, sizeof info);
  return GREENHUB_REAL(waitid)(P_PID, static_cast<id_t>(pid), &info,
                               WEXITED | WNOHANG | WNOWAIT) == 0;
}

void remember_popen_child(FILE* stream, bool writing) {
  pid_t pid;
  memcpy(&pid, reinterpret_cast<const char*>(stream) + kProcFilePidOffset, sizeof pid);
  if (!is_waitable_child(pid)) return;
  std::lock_guard<SpinLock> lock(popen_lock);
  if (popen_children == nullptr) popen_children = new std::vector<PopenChild>();
  for (PopenChild& c : *popen_children) {
    if (c.stream == stream) {  // a stream closed with fclose, its address reused
      c.pid = pid;
      c.writing = writing;
      return;
    }
  }
  popen_children->push_back(PopenChild{stream, pid, writing});
}

PopenChild forget_popen_child(FILE* stream) {
  std::lock_guard<SpinLock> lock(popen_lock);
  if (popen_children == nullptr) return {};
  for (size_t i = 0; i < popen_children->size(); ++i) {
    if ((*popen_children)[i].stream != stream) continue;
    PopenChild child = (*popen_children)[i];
    (*popen_children)[i] = popen_children->back();
    popen_children->pop_back();
    return child;
  }
  return {};
}

// Closes the stream's pipe as pclose would, keeping its descriptor number
// valid for glibc's pclose (now /dev/null). Returns false if it could not.
bool close_pipe_keep_descriptor(FILE* stream, bool writing) {
  if (writing) fflush(stream);
  const int fd = fileno(stream);
  if (fd < 0) return false;
  long null_fd = raw_syscall6(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/dev/null"),
                              O_RDWR | O_CLOEXEC, 0, 0, 0);
  if (null_fd < 0) return false;
  const bool replaced = raw_syscall6(SYS_dup3, null_fd, fd, O_CLOEXEC, 0, 0, 0) == fd;
  close_raw(static_cast<int>(null_fd));
  return replaced;
}

}  // namespace

extern "C" {

int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
                const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  posix_spawnattr_t storage;
  return GREENHUB_REAL(posix_spawn)(pid, path, actions, with_program_mask(attr, &storage), argv,
                                    envp);
}

int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
                 const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  posix_spawnattr_t storage;
  return GREENHUB_REAL(posix_spawnp)(pid, file, actions, with_program_mask(attr, &storage), argv,
                                     envp);
}

int system(const char* line) {
  Hub* hub = green_hub();
  if (hub == nullptr) return GREENHUB_REAL(system)(line);
  // system(NULL): is a command processor available?
  if (line == nullptr) return green_system(*hub, "exit 0") == 0;
  return green_system(*hub, line);
}

int __libc_system(const char* line) { return system(line); }

FILE* popen(const char* command, const char* mode) {
  sigset_t previous;
  const bool masked = enter_program_signal_mask(&previous);
  FILE* stream = GREENHUB_REAL(popen)(command, mode);
  const int saved_errno = errno;
  if (masked) GREENHUB_REAL(pthread_sigmask)(SIG_SETMASK, &previous, nullptr);
  if (stream != nullptr && initialized()) remember_popen_child(stream, mode != nullptr && mode[0] == 'w');
  errno = saved_errno;
  return stream;
}

int pclose(FILE* stream) {
  const PopenChild child = forget_popen_child(stream);
  if (Hub* hub = green_hub(); hub != nullptr && is_waitable_child(child.pid) &&
                              close_pipe_keep_descriptor(stream, child.writing)) {
    wait_until_child_exits(*hub, child.pid, false);
  }
  return GREENHUB_REAL(pclose)(stream);
}

}  // extern "C"
