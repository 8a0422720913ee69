/* Fixture: glibc's lookup functions on a table of names, flags, families
 * and services, printed in full (order, canonical names, error codes,
 * errno and h_errno), from main() and from a second thread. Run by
 * differential.py inside dns_sandbox (the test DNS server and its
 * /etc/hosts, resolv.conf): natively and under the preload, with each
 * green resolver, the output must be the same.
 *
 * Also frees lists three ways (freeaddrinfo, glibc's freeaddrinfo found
 * with dlsym on libc.so.6, and from another thread than the one that
 * made them), and calls the pre-2.34 compat name __res_query@GLIBC_2.2.5
 * as binaries linked against an old glibc import it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The compat symbol, as an old binary references it. */
extern int compat_res_query(const char*, int, int, unsigned char*, int);
__asm__(".symver compat_res_query,__res_query@GLIBC_2.2.5");

#define SENTINEL 4242

static void (*glibc_freeaddrinfo)(struct addrinfo*);
static struct addrinfo* kept[64];
static int kept_count;

static void print_address(const struct sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in* sin = (const struct sockaddr_in*)sa;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    printf(" %s port=%d", text, ntohs(sin->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* sin6 = (const struct sockaddr_in6*)sa;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    printf(" %s port=%d scope=%u flow=%u", text, ntohs(sin6->sin6_port), sin6->sin6_scope_id,
           sin6->sin6_flowinfo);
  }
}

static void gai(const char* node, const char* service, int family, int socktype, int protocol,
                int flags, int null_hints) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  hints.ai_protocol = protocol;
  hints.ai_flags = flags;
  struct addrinfo* list = NULL;
  errno = SENTINEL;
  int rc = getaddrinfo(node, service, null_hints ? NULL : &hints, &list);
  int error = errno;
  printf("gai node=%s%s%s service=%s family=%d socktype=%d protocol=%d flags=%#x%s: rc=%d",
         node ? "'" : "", node ? node : "null", node ? "'" : "", service ? service : "null",
         family, socktype, protocol, flags, null_hints ? " (null hints)" : "", rc);
  if (rc != 0) {
    printf(" (%s)%s\n", gai_strerror(rc), rc == EAI_SYSTEM ? (error == 0 ? " errno=0" : " errno!=0") : "");
    return;
  }
  for (struct addrinfo* a = list; a != NULL; a = a->ai_next) {
    printf("\n  flags=%#x family=%d socktype=%d protocol=%d addrlen=%u", a->ai_flags,
           a->ai_family, a->ai_socktype, a->ai_protocol, (unsigned)a->ai_addrlen);
    if (a->ai_addr != NULL) print_address(a->ai_addr);
    printf(" canon=%s", a->ai_canonname ? a->ai_canonname : "null");
  }
  printf("\n");
  /* Free one list in three with glibc's own freeaddrinfo, keep one in
   * three for another thread to free, free the rest here. */
  static unsigned count;
  switch (count++ % 3) {
    case 0: freeaddrinfo(list); break;
    case 1: glibc_freeaddrinfo(list); break;
    default:
      if (kept_count < 64) kept[kept_count++] = list;
      else freeaddrinfo(list);
  }
}

static const char* const names[] = {
    "a.test", "A.TEST", "multi.test", "loop.test", "v4only.test", "v6only.test", "dual.test",
    "alias.test", "dangling.test", "to-nodata.test", "to-v6only.test", "to-badname.test",
    "bad_name.test", "nodata.test", "mixedcase.test", "servfail.test", "refused.test",
    "servfail-aaaa.test", "nxdomain.test", "tc.test", "big.test", "foreign.test",
    "filehost.test", "filealias", "onlyfile", "mapped-file.test", "localhost", "www", "only",
    "host", "www.sub", "a.test.", "-leading.test", "x..test", "", "192.0.2.1", "::1",
    "fe80::1%lo", "1.2.3", "256.1.1.1",
};

struct hint { int family, socktype, flags; };
static const struct hint hint_table[] = {
    {AF_UNSPEC, 0, 0},
    {AF_UNSPEC, SOCK_STREAM, AI_CANONNAME},
    {AF_INET, SOCK_DGRAM, AI_CANONNAME},
    {AF_INET6, 0, 0},
    {AF_INET6, SOCK_STREAM, AI_V4MAPPED},
    {AF_INET6, 0, AI_V4MAPPED | AI_ALL | AI_CANONNAME},
    {AF_UNSPEC, SOCK_STREAM, AI_ADDRCONFIG},
    {AF_UNSPEC, 0, AI_NUMERICHOST},
};

static void getaddrinfo_table(int brief) {
  size_t n_names = sizeof names / sizeof names[0];
  size_t n_hints = sizeof hint_table / sizeof hint_table[0];
  for (size_t i = 0; i < n_names; ++i) {
    for (size_t h = 0; h < (brief ? 2 : n_hints); ++h) {
      gai(names[i], NULL, hint_table[h].family, hint_table[h].socktype, 0, hint_table[h].flags, 0);
    }
    if (!brief) gai(names[i], NULL, 0, 0, 0, 0, 1);
  }
  if (brief) return;
  static const char* const services[] = {"80", "http", "domain", "no-such-service", "65536",
                                         "-1", "80x", ""};
  static const int socktypes[] = {0, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW};
  for (size_t s = 0; s < sizeof services / sizeof services[0]; ++s) {
    for (size_t t = 0; t < sizeof socktypes / sizeof socktypes[0]; ++t) {
      gai("dual.test", services[s], AF_UNSPEC, socktypes[t], 0, 0, 0);
      gai("dual.test", services[s], AF_UNSPEC, socktypes[t], 0, AI_NUMERICSERV, 0);
    }
  }
  gai("a.test", "http", AF_INET, 0, IPPROTO_UDP, 0, 0);
  gai("a.test", "http", AF_INET, SOCK_STREAM, IPPROTO_UDP, 0, 0);
  gai(NULL, "8080", AF_UNSPEC, SOCK_STREAM, 0, AI_PASSIVE, 0);
  gai(NULL, "http", AF_INET6, 0, 0, 0, 0);
  gai(NULL, NULL, AF_UNSPEC, 0, 0, 0, 0);
  gai(NULL, "80", AF_UNSPEC, 0, 0, AI_CANONNAME, 0);
  gai("a.test", NULL, AF_UNSPEC, 0, 0, 0x10000, 0);
  gai("a.test", NULL, AF_UNIX, 0, 0, 0, 0);
  gai("a.test", NULL, AF_UNSPEC, 12345, 0, 0, 0);
  gai("blackhole.test", NULL, AF_INET, 0, 0, 0, 0);
}

static void print_hostent(const char* what, const struct hostent* h, int rc, int herrno,
                          int error) {
  printf("%s: rc=%d h_errno=%d errno=%d", what, rc, herrno, error);
  if (h == NULL) {
    printf(" null\n");
    return;
  }
  printf(" name='%s' type=%d length=%d aliases=[", h->h_name, h->h_addrtype, h->h_length);
  for (char** a = h->h_aliases; *a != NULL; ++a) printf("%s ", *a);
  printf("] addresses=[");
  for (char** a = h->h_addr_list; *a != NULL; ++a) {
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(h->h_length == 4 ? AF_INET : AF_INET6, *a, text, sizeof text);
    printf("%s ", text);
  }
  printf("]\n");
}

static void hostent_table(void) {
  static const char* const host_names[] = {"a.test", "multi.test", "v6only.test", "alias.test",
                                           "nxdomain.test", "servfail.test", "nodata.test",
                                           "filehost.test", "filealias", "localhost", "www",
                                           "192.0.2.1", "::1", ""};
  char label[160];
  for (size_t i = 0; i < sizeof host_names / sizeof host_names[0]; ++i) {
    const char* name = host_names[i];
    h_errno = SENTINEL;
    errno = SENTINEL;
    struct hostent* h = gethostbyname(name);
    snprintf(label, sizeof label, "gethostbyname '%s'", name);
    print_hostent(label, h, 0, h_errno, errno);
    for (int af = AF_INET; af <= AF_INET6; af += AF_INET6 - AF_INET) {
      h_errno = SENTINEL;
      h = gethostbyname2(name, af);
      snprintf(label, sizeof label, "gethostbyname2 '%s' af=%d", name, af);
      print_hostent(label, h, 0, h_errno, 0);
    }
    for (size_t buflen = 16; buflen <= 4096; buflen *= 16) {
      struct hostent ret, *result = NULL;
      char* buf = malloc(buflen);
      int herrno = SENTINEL;
      errno = SENTINEL;
      int rc = gethostbyname_r(name, &ret, buf, buflen, &result, &herrno);
      int error = errno;
      snprintf(label, sizeof label, "gethostbyname_r '%s' buflen=%zu", name, buflen);
      print_hostent(label, result, rc, herrno, error);
      herrno = SENTINEL;
      rc = gethostbyname2_r(name, AF_INET6, &ret, buf, buflen, &result, &herrno);
      snprintf(label, sizeof label, "gethostbyname2_r '%s' AF_INET6 buflen=%zu", name, buflen);
      print_hostent(label, result, rc, herrno, 0);
      free(buf);
    }
  }
  h_errno = SENTINEL;
  print_hostent("gethostbyname2 AF_UNIX", gethostbyname2("a.test", AF_UNIX), 0, h_errno, 0);

  static const char* const v4[] = {"192.0.2.1", "192.0.2.30", "192.0.2.66", "192.0.2.67",
                                   "192.0.2.200", "198.51.100.99", "127.0.0.1"};
  for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; ++i) {
    struct in_addr a;
    inet_pton(AF_INET, v4[i], &a);
    h_errno = SENTINEL;
    snprintf(label, sizeof label, "gethostbyaddr %s", v4[i]);
    print_hostent(label, gethostbyaddr(&a, sizeof a, AF_INET), 0, h_errno, 0);
    struct hostent ret, *result = NULL;
    char buf[1024];
    int herrno = SENTINEL;
    errno = SENTINEL;
    int rc = gethostbyaddr_r(&a, sizeof a, AF_INET, &ret, buf, sizeof buf, &result, &herrno);
    snprintf(label, sizeof label, "gethostbyaddr_r %s", v4[i]);
    print_hostent(label, result, rc, herrno, errno);
  }
  static const char* const v6[] = {"2001:db8::6", "2001:db8::30", "::1", "2001:db8::99"};
  for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; ++i) {
    struct in6_addr a;
    inet_pton(AF_INET6, v6[i], &a);
    h_errno = SENTINEL;
    snprintf(label, sizeof label, "gethostbyaddr %s", v6[i]);
    print_hostent(label, gethostbyaddr(&a, sizeof a, AF_INET6), 0, h_errno, 0);
  }
  struct in_addr a;
  inet_pton(AF_INET, "192.0.2.1", &a);
  h_errno = SENTINEL;
  errno = SENTINEL;
  struct hostent* h = gethostbyaddr(&a, 3, AF_INET);
  print_hostent("gethostbyaddr bad length", h, 0, h_errno, errno);
  h_errno = SENTINEL;
  errno = SENTINEL;
  h = gethostbyaddr(&a, sizeof a, AF_UNIX);
  print_hostent("gethostbyaddr bad family", h, 0, h_errno, errno);
}

static void nameinfo(const char* address, int port, int flags, socklen_t hostlen,
                     socklen_t servlen) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (strchr(address, ':') != NULL) {
    struct sockaddr_in6* sin6 = (struct sockaddr_in6*)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, address, &sin6->sin6_addr);
    len = sizeof *sin6;
  } else {
    struct sockaddr_in* sin = (struct sockaddr_in*)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, address, &sin->sin_addr);
    len = sizeof *sin;
  }
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  errno = SENTINEL;
  int rc = getnameinfo((struct sockaddr*)&ss, len, hostlen ? host : NULL, hostlen,
                       servlen ? serv : NULL, servlen, flags);
  printf("getnameinfo %s port=%d flags=%#x hostlen=%u servlen=%u: rc=%d", address, port, flags,
         (unsigned)hostlen, (unsigned)servlen, rc);
  if (rc == 0) printf(" host='%s' serv='%s'", host, serv);
  if (rc == EAI_SYSTEM) printf(" errno=%d", errno);
  printf("\n");
}

static void nameinfo_table(void) {
  static const char* const addresses[] = {"192.0.2.1", "192.0.2.30", "192.0.2.200",
                                          "198.51.100.99", "127.0.0.1", "2001:db8::6", "::1"};
  static const int flag_sets[] = {0, NI_NUMERICHOST, NI_NAMEREQD, NI_NUMERICSERV | NI_DGRAM,
                                  NI_NOFQDN};
  for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; ++i) {
    for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; ++f) {
      nameinfo(addresses[i], 80, flag_sets[f], NI_MAXHOST, NI_MAXSERV);
    }
  }
  nameinfo("192.0.2.1", 53, 0, 3, NI_MAXSERV);
  nameinfo("192.0.2.1", 53, 0, NI_MAXHOST, 2);
  nameinfo("192.0.2.1", 12345, 0, 0, NI_MAXSERV);
  nameinfo("192.0.2.1", 80, 0, 0, 0);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  char host[64];
  printf("getnameinfo short salen: rc=%d\n",
         getnameinfo((struct sockaddr*)&sin, 3, host, sizeof host, NULL, 0, 0));
  sin.sin_family = AF_UNIX;
  printf("getnameinfo AF_UNIX: rc=%d\n",
         getnameinfo((struct sockaddr*)&sin, sizeof sin, host, sizeof host, NULL, 0, 0));
}

static void print_answer(const char* what, int rc, const unsigned char* answer, int anslen) {
  printf("%s: rc=%d h_errno=%d", what, rc, h_errno);
  if (rc < 0) printf(" errno=%d", errno);
  if (rc > 0) {
    int n = rc < anslen ? rc : anslen;
    printf(" answer=");
    for (int i = 2; i < n; ++i) printf("%02x", answer[i]); /* skip the random ID */
  }
  printf("\n");
}

static void res_table(void) {
  unsigned char answer[2048];
  char label[128];
  static const char* const qnames[] = {"a.test", "alias.test", "nxdomain.test", "servfail.test",
                                       "nodata.test", "tc.test", "big.test", "www"};
  for (size_t i = 0; i < sizeof qnames / sizeof qnames[0]; ++i) {
    int types[] = {ns_t_a, ns_t_aaaa};
    for (int t = 0; t < 2; ++t) {
      h_errno = SENTINEL;
      errno = SENTINEL;
      snprintf(label, sizeof label, "res_query %s %d", qnames[i], types[t]);
      print_answer(label, res_query(qnames[i], ns_c_in, types[t], answer, sizeof answer), answer,
                   sizeof answer);
      h_errno = SENTINEL;
      snprintf(label, sizeof label, "res_search %s %d", qnames[i], types[t]);
      print_answer(label, res_search(qnames[i], ns_c_in, types[t], answer, sizeof answer), answer,
                   sizeof answer);
    }
  }
  h_errno = SENTINEL;
  print_answer("res_query small buffer",
               res_query("big.test", ns_c_in, ns_t_a, answer, 100), answer, 100);
  h_errno = SENTINEL;
  print_answer("res_querydomain www sub.test",
               res_querydomain("www", "sub.test", ns_c_in, ns_t_a, answer, sizeof answer), answer,
               sizeof answer);
  h_errno = SENTINEL;
  print_answer("__res_query@GLIBC_2.2.5 a.test",
               compat_res_query("a.test", ns_c_in, ns_t_a, answer, sizeof answer), answer,
               sizeof answer);
  unsigned char query[512];
  int qlen = res_mkquery(ns_o_query, "dual.test", ns_c_in, ns_t_aaaa, NULL, 0, NULL, query,
                         sizeof query);
  h_errno = SENTINEL;
  print_answer("res_send dual.test AAAA", res_send(query, qlen, answer, sizeof answer), answer,
               sizeof answer);

  struct __res_state state;
  memset(&state, 0, sizeof state);
  if (res_ninit(&state) != 0) {
    printf("res_ninit failed\n");
    return;
  }
  h_errno = SENTINEL;
  print_answer("res_nquery multi.test",
               res_nquery(&state, "multi.test", ns_c_in, ns_t_a, answer, sizeof answer), answer,
               sizeof answer);
  print_answer("res_nsearch only",
               res_nsearch(&state, "only", ns_c_in, ns_t_a, answer, sizeof answer), answer,
               sizeof answer);
  print_answer("res_nquerydomain mid test",
               res_nquerydomain(&state, "mid", "test", ns_c_in, ns_t_a, answer, sizeof answer),
               answer, sizeof answer);
  print_answer("res_nsend", res_nsend(&state, query, qlen, answer, sizeof answer), answer,
               sizeof answer);
  print_answer("res_nquery nxdomain",
               res_nquery(&state, "nxdomain.test", ns_c_in, ns_t_a, answer, sizeof answer), answer,
               sizeof answer);
  res_nclose(&state);
}

static void* in_thread(void* arg) {
  (void)arg;
  printf("-- from a second thread\n");
  getaddrinfo_table(1);
  nameinfo("192.0.2.1", 80, 0, NI_MAXHOST, NI_MAXSERV);
  h_errno = SENTINEL;
  print_hostent("thread gethostbyname nxdomain.test", gethostbyname("nxdomain.test"), 0,
                h_errno, 0);
  /* Lists made by main(), freed here. */
  for (int i = 0; i < kept_count; ++i) freeaddrinfo(kept[i]);
  kept_count = 0;
  return NULL;
}

int main(void) {
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  glibc_freeaddrinfo = libc ? (void (*)(struct addrinfo*))dlsym(libc, "freeaddrinfo") : NULL;
  if (glibc_freeaddrinfo == NULL) {
    printf("no glibc freeaddrinfo\n");
    return 1;
  }
  getaddrinfo_table(0);
  hostent_table();
  nameinfo_table();
  res_table();
  fflush(stdout);
  pthread_t t;
  if (pthread_create(&t, NULL, in_thread, NULL) != 0) return 1;
  pthread_join(t, NULL);
  for (int i = 0; i < kept_count; ++i) freeaddrinfo(kept[i]);
  return 0;
}
