// glibc's own resolver entry points, reached past any interposer.
//
// The thread and blocking resolvers call glibc's getaddrinfo & co. When the
// preload is loaded, the global names (::getaddrinfo...) resolve to the
// preload's shims, which would send the call back here. So these pointers are
// looked up in libc.so.6 itself (dlopen RTLD_NOLOAD + dlsym on that handle),
// which always yields glibc's definition, whatever precedes it in the
// global scope.
//
// The NSS "files" functions are glibc's hosts-file backend (exported by
// libc.so.6 under GLIBC_PRIVATE, with the NSS module interface documented in
// glibc's manual); the asynchronous resolver reads /etc/hosts through them,
// so that it parses the file exactly as glibc does (aliases, host.conf's
// "multi", ::1 for AF_INET...). A missing function is nullptr; the resolver
// then sends lookups that need it to the thread resolver.
#pragma once

#include <netdb.h>
#include <nss.h>
#include <resolv.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace greenhub::detail {

struct LibcResolver {
  int (*getaddrinfo)(const char*, const char*, const addrinfo*, addrinfo**) = nullptr;
  void (*freeaddrinfo)(addrinfo*) = nullptr;
  const char* (*gai_strerror)(int) = nullptr;
  int (*getnameinfo)(const sockaddr*, socklen_t, char*, socklen_t, char*, socklen_t, int) = nullptr;
  hostent* (*gethostbyname)(const char*) = nullptr;
  hostent* (*gethostbyname2)(const char*, int) = nullptr;
  hostent* (*gethostbyaddr)(const void*, socklen_t, int) = nullptr;
  int (*gethostbyname_r)(const char*, hostent*, char*, size_t, hostent**, int*) = nullptr;
  int (*gethostbyname2_r)(const char*, int, hostent*, char*, size_t, hostent**, int*) = nullptr;
  int (*gethostbyaddr_r)(const void*, socklen_t, int, hostent*, char*, size_t, hostent**,
                         int*) = nullptr;
  int (*res_nquery)(res_state, const char*, int, int, unsigned char*, int) = nullptr;
  int (*res_nsearch)(res_state, const char*, int, int, unsigned char*, int) = nullptr;
  int (*res_nquerydomain)(res_state, const char*, const char*, int, int, unsigned char*,
                          int) = nullptr;
  int (*res_nsend)(res_state, const unsigned char*, int, unsigned char*, int) = nullptr;
  int (*res_query)(const char*, int, int, unsigned char*, int) = nullptr;
  int (*res_search)(const char*, int, int, unsigned char*, int) = nullptr;
  int (*res_querydomain)(const char*, const char*, int, int, unsigned char*, int) = nullptr;
  int (*res_send)(const unsigned char*, int, unsigned char*, int) = nullptr;

  // glibc's hosts-file backend (NSS module interface).
  nss_status (*files_gethostbyname4_r)(const char* name, gaih_addrtuple** pat, char* buffer,
                                       size_t buflen, int* errnop, int* herrnop,
                                       int32_t* ttlp) = nullptr;
  nss_status (*files_gethostbyname3_r)(const char* name, int af, hostent* result, char* buffer,
                                       size_t buflen, int* errnop, int* herrnop, int32_t* ttlp,
                                       char** canonp) = nullptr;
  nss_status (*files_gethostbyaddr_r)(const void* addr, socklen_t len, int af, hostent* result,
                                      char* buffer, size_t buflen, int* errnop,
                                      int* herrnop) = nullptr;
  // Handles numeric host names the way gethostbyname does (public ABI).
  int (*hostname_digits_dots)(const char* name, hostent* resbuf, char** buffer, size_t* buffer_size,
                              size_t buflen, hostent** result, nss_status* status, int af,
                              int* h_errnop) = nullptr;

  // Whether everything the asynchronous resolver needs was found.
  bool has_files_backend() const {
    return files_gethostbyname4_r != nullptr && files_gethostbyname3_r != nullptr &&
           files_gethostbyaddr_r != nullptr && hostname_digits_dots != nullptr;
  }
};

// Resolved once, on first use; never fails (missing entries are nullptr,
// and the libc functions the thread resolver needs always exist).
const LibcResolver& libc_resolver();

}  // namespace greenhub::detail
