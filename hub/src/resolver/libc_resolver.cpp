#include "libc_resolver.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace greenhub::detail {

namespace {

void* libc_handle() {
  void* handle = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) handle = dlopen("libc.so.6", RTLD_LAZY);
  return handle;
}

template <class F>
void bind(void* handle, F& slot, const char* name) {
  slot = reinterpret_cast<F>(dlsym(handle, name));
}

template <class F>
void bind_required(void* handle, F& slot, const char* name) {
  bind(handle, slot, name);
  if (slot == nullptr) {
    std::fprintf(stderr, "greenhub: glibc's %s was not found in libc.so.6\n", name);
    std::abort();
  }
}

LibcResolver load() {
  LibcResolver r;
  void* h = libc_handle();
  if (h == nullptr) {
    std::fprintf(stderr, "greenhub: cannot open libc.so.6: %s\n", dlerror());
    std::abort();
  }
  bind_required(h, r.getaddrinfo, "getaddrinfo");
  bind_required(h, r.freeaddrinfo, "freeaddrinfo");
  bind_required(h, r.gai_strerror, "gai_strerror");
  bind_required(h, r.getnameinfo, "getnameinfo");
  bind_required(h, r.gethostbyname, "gethostbyname");
  bind_required(h, r.gethostbyname2, "gethostbyname2");
  bind_required(h, r.gethostbyaddr, "gethostbyaddr");
  bind_required(h, r.gethostbyname_r, "gethostbyname_r");
  bind_required(h, r.gethostbyname2_r, "gethostbyname2_r");
  bind_required(h, r.gethostbyaddr_r, "gethostbyaddr_r");
  // Since glibc 2.34 these live in libc.so.6 (and libresolv is a stub).
  bind_required(h, r.res_nquery, "res_nquery");
  bind_required(h, r.res_nsearch, "res_nsearch");
  bind_required(h, r.res_nquerydomain, "res_nquerydomain");
  bind_required(h, r.res_nsend, "res_nsend");
  bind_required(h, r.res_query, "res_query");
  bind_required(h, r.res_search, "res_search");
  bind_required(h, r.res_querydomain, "res_querydomain");
  bind_required(h, r.res_send, "res_send");
  bind(h, r.files_gethostbyname4_r, "_nss_files_gethostbyname4_r");
  bind(h, r.files_gethostbyname3_r, "_nss_files_gethostbyname3_r");
  bind(h, r.files_gethostbyaddr_r, "_nss_files_gethostbyaddr_r");
  bind(h, r.hostname_digits_dots, "__nss_hostname_digits_dots");
  return r;
}

}  // namespace

const LibcResolver& libc_resolver() {
  static const LibcResolver resolver = load();
  return resolver;
}

}  // namespace greenhub::detail
