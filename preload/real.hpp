// Resolving libc's own functions beneath the preload.
//
// GREENHUB_REAL(name) is a pointer to the next definition of `name` after
// the preload (dlsym(RTLD_NEXT)), resolved once, on first use, with the
// exact type of the libc prototype. Resolution is safe from any context the
// preload can be entered in (another library's constructor, before main):
// dlsym needs no initialisation of ours, and the preload does not interpose
// the allocator that dlsym may call.
#pragma once

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <type_traits>

namespace greenhub::preload {

[[noreturn]] inline void missing_real_function(const char* name) {
  std::fprintf(stderr, "greenhub: cannot find libc's %s beneath the preload\n", name);
  std::abort();
}

inline void* resolve_real_symbol(const char* name) {
  void* sym = dlsym(RTLD_NEXT, name);
  if (sym == nullptr) missing_real_function(name);
  return sym;
}

template <class Fn>
Fn* resolve_real(const char* name) {
  return reinterpret_cast<Fn*>(resolve_real_symbol(name));
}

}  // namespace greenhub::preload

#define GREENHUB_REAL(name)                                                              \
  ([]() {                                                                                \
    static const auto real_fn =                                                          \
        reinterpret_cast<decltype(&::name)>(::greenhub::preload::resolve_real_symbol(#name)); \
    return real_fn;                                                                      \
  }())

// For libc names without a public prototype (compat and __ names): give the
// type explicitly.
#define GREENHUB_REAL_TYPED(type, name)                                        \
  ([]() {                                                                      \
    static std::add_pointer_t<type> real_fn = ::greenhub::preload::resolve_real<type>(name); \
    return real_fn;                                                            \
  }())
