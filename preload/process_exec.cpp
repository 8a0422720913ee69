// The exec family: execve, execv, execvp, execvpe, execl, execle, execlp,
// fexecve, execveat.
//
// The preload follows exec through the environment only: a program that
// execs with an environment holding LD_PRELOAD (execv, execvp and execl
// pass the process's own) runs green too; an envp the program built
// without LD_PRELOAD is respected, and the new image runs natively. That is
// what preload tools that act for the program do (faketime, fakeroot,
// eatmydata, torsocks: the child inherits the environment it is given); a
// tool that must see every process whatever its parent does re-adds its
// variable to every envp (Bear's libexec), which would override a program
// that deliberately clears its children's environment (sandboxes, env -i,
// sudo-like code). To run a child green when its parent strips the
// environment, start it with greenrun or keep LD_PRELOAD in the envp.
//
// What the shims do: exec keeps the calling thread's signal mask, and a
// green thread on a runtime hub thread (hubs 1..N-1) runs with the
// asynchronous signals blocked; the new image gets the program's mask
// instead (signal_mask.hpp), restored if exec fails. Elsewhere they are
// libc's. The variadic forms build their argument vector on the stack
// (they may run in a vfork or _Fork child, where malloc is not safe).
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#include "greenhub/trace.hpp"
#include "real.hpp"
#include "signal_mask.hpp"

using namespace greenhub::preload;

namespace {

// libc's exec functions, resolved before main(): the shims may run in a
// vfork or _Fork child, where dlsym is not safe.
struct RealExec {
  decltype(&::execve) execve = resolve_real<decltype(::execve)>("execve");
  decltype(&::execv) execv = resolve_real<decltype(::execv)>("execv");
  decltype(&::execvp) execvp = resolve_real<decltype(::execvp)>("execvp");
  decltype(&::execvpe) execvpe = resolve_real<decltype(::execvpe)>("execvpe");
  decltype(&::fexecve) fexecve = resolve_real<decltype(::fexecve)>("fexecve");
  decltype(&::execveat) execveat = resolve_real<decltype(::execveat)>("execveat");
};

const RealExec& real_exec() {
  static const RealExec functions;
  return functions;
}

__attribute__((constructor(101))) void resolve_exec_functions() { real_exec(); }

template <class Exec>
int exec_with_program_mask(Exec&& exec) {
  // exec discards the trace writer thread: write what is recorded first.
  if (greenhub::trace::on()) greenhub::trace::flush_before_exec();
  sigset_t previous;
  const bool changed = enter_program_signal_mask(&previous);
  int rc = exec();
  if (changed) {
    const int saved_errno = errno;
    set_signal_mask(&previous);
    errno = saved_errno;
  }
  return rc;
}

// Counts the arguments of an execl-style call, terminating null included.
size_t count_args(const char* first, va_list args) {
  size_t n = 1;
  if (first == nullptr) return n;
  va_list copy;
  va_copy(copy, args);
  while (va_arg(copy, const char*) != nullptr) ++n;
  va_end(copy);
  return n + 1;
}

void collect_args(const char* first, va_list args, const char** argv, size_t n) {
  argv[0] = first;
  for (size_t i = 1; i < n; ++i) argv[i] = va_arg(args, const char*);
  argv[n - 1] = nullptr;
}

}  // namespace

extern "C" {

int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return exec_with_program_mask([&] { return real_exec().execve(path, argv, envp); });
}

int execv(const char* path, char* const argv[]) noexcept {
  return exec_with_program_mask([&] { return real_exec().execv(path, argv); });
}

int execvp(const char* file, char* const argv[]) noexcept {
  return exec_with_program_mask([&] { return real_exec().execvp(file, argv); });
}

int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  return exec_with_program_mask([&] { return real_exec().execvpe(file, argv, envp); });
}

int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  return exec_with_program_mask([&] { return real_exec().fexecve(fd, argv, envp); });
}

int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
             int flags) noexcept {
  return exec_with_program_mask(
      [&] { return real_exec().execveat(dirfd, path, argv, envp, flags); });
}

int execl(const char* path, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const size_t n = count_args(arg, args);
  const char** argv = static_cast<const char**>(__builtin_alloca(n * sizeof(char*)));
  collect_args(arg, args, argv, n);
  va_end(args);
  return execv(path, const_cast<char* const*>(argv));
}

int execlp(const char* file, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const size_t n = count_args(arg, args);
  const char** argv = static_cast<const char**>(__builtin_alloca(n * sizeof(char*)));
  collect_args(arg, args, argv, n);
  va_end(args);
  return execvp(file, const_cast<char* const*>(argv));
}

int execle(const char* path, const char* arg, ...) noexcept {
  va_list args;
  va_start(args, arg);
  const size_t n = count_args(arg, args);
  const char** argv = static_cast<const char**>(__builtin_alloca(n * sizeof(char*)));
  collect_args(arg, args, argv, n);
  char* const* envp = va_arg(args, char* const*);
  va_end(args);
  return execve(path, const_cast<char* const*>(argv), envp);
}

}  // extern "C"
