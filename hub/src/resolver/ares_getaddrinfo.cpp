#include "ares_getaddrinfo.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "address_sort.hpp"
#include "interfaces.hpp"
#include "libc_resolver.hpp"

namespace greenhub::detail {

namespace {

// Former AI_IDN_ALLOW_UNASSIGNED and AI_IDN_USE_STD3_ASCII_RULES, ignored.
constexpr int kDeprecatedAiIdn = 0x300;

constexpr uint8_t kProtoNoService = 1;
constexpr uint8_t kProtoAny = 2;

struct TypeProto {
  int socktype;
  int protocol;
  uint8_t protoflag;
  bool defaultflag;
  const char* name;
};

// glibc's gaih_inet_typeproto, in its order.
const TypeProto kTypeProto[] = {
    {0, 0, 0, false, ""},
    {SOCK_STREAM, IPPROTO_TCP, 0, true, "tcp"},
    {SOCK_DGRAM, IPPROTO_UDP, 0, true, "udp"},
    {SOCK_DCCP, IPPROTO_DCCP, 0, false, "dccp"},
    {SOCK_DGRAM, IPPROTO_UDPLITE, 0, false, "udplite"},
    {SOCK_STREAM, IPPROTO_SCTP, 0, false, "sctp"},
    {SOCK_SEQPACKET, IPPROTO_SCTP, 0, false, "sctp"},
    {SOCK_RAW, 0, kProtoAny | kProtoNoService, true, "raw"},
    {0, 0, 0, false, ""},
};
constexpr size_t kTypeProtoCount = sizeof(kTypeProto) / sizeof(kTypeProto[0]);

struct ServTuple {
  int socktype = 0;
  int protocol = 0;
  int port = 0;
  bool set = false;
};

int inet_serv(const char* service, const TypeProto* tp, const addrinfo* req, ServTuple* st) {
  std::vector<char> buffer(1024);
  servent entry;
  servent* s = nullptr;
  while (true) {
    int r = getservbyname_r(service, tp->name, &entry, buffer.data(), buffer.size(), &s);
    if (r == ERANGE) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (r != 0 || s == nullptr) return EAI_SERVICE;
    break;
  }
  st->socktype = tp->socktype;
  st->protocol = (tp->protoflag & kProtoAny) != 0 ? req->ai_protocol : tp->protocol;
  st->port = s->s_port;
  st->set = true;
  return 0;
}

// glibc's get_servtuples; service_num < 0 means "look the name up".
int get_servtuples(bool has_service, int service_num, const char* service_name, const addrinfo* req,
                   ServTuple* st) {
  const TypeProto* tp = kTypeProto;
  if (req->ai_protocol != 0 || req->ai_socktype != 0) {
    ++tp;
    while (tp->name[0] != '\0' && ((req->ai_socktype != 0 && req->ai_socktype != tp->socktype) ||
                                   (req->ai_protocol != 0 && (tp->protoflag & kProtoAny) == 0 &&
                                    req->ai_protocol != tp->protocol))) {
      ++tp;
    }
    if (tp->name[0] == '\0') return req->ai_socktype != 0 ? EAI_SOCKTYPE : EAI_SERVICE;
  }
  if (has_service && (tp->protoflag & kProtoNoService) != 0) return EAI_SERVICE;

  if (!has_service || service_num >= 0) {
    int port = has_service ? htons(static_cast<uint16_t>(service_num)) : 0;
    if (req->ai_socktype != 0 || req->ai_protocol != 0) {
      st[0].socktype = tp->socktype;
      st[0].protocol = (tp->protoflag & kProtoAny) != 0 ? req->ai_protocol : tp->protocol;
      st[0].port = port;
      st[0].set = true;
      return 0;
    }
    int i = 0;
    for (++tp; tp->name[0] != '\0'; ++tp) {
      if (tp->defaultflag) {
        st[i].socktype = tp->socktype;
        st[i].protocol = tp->protocol;
        st[i].port = port;
        st[i++].set = true;
      }
    }
    return 0;
  }

  if (tp->name[0] != '\0') return inet_serv(service_name, tp, req, st);

  int i = 0;
  for (tp++; tp->name[0] != '\0'; tp++) {
    if ((tp->protoflag & kProtoNoService) != 0) continue;
    if (req->ai_socktype != 0 && req->ai_socktype != tp->socktype) continue;
    if (req->ai_protocol != 0 && (tp->protoflag & kProtoAny) == 0 &&
        req->ai_protocol != tp->protocol) {
      continue;
    }
    if (inet_serv(service_name, tp, req, &st[i]) != 0) continue;
    i++;
  }
  if (!st[0].set) return EAI_SERVICE;
  return 0;
}

// inet_aton accepting the whole string only (glibc's __inet_aton_exact).
bool inet_aton_exact(const char* name, in_addr* out) {
  for (const char* p = name; *p != '\0'; ++p) {
    if (std::isspace(static_cast<unsigned char>(*p))) return false;
  }
  return inet_aton(name, out) != 0;
}

// glibc's __inet6_scopeid_pton.
bool scope_id_from_text(const in6_addr& address, const char* scope, uint32_t* result) {
  if (IN6_IS_ADDR_LINKLOCAL(&address) || IN6_IS_ADDR_MC_NODELOCAL(&address) ||
      IN6_IS_ADDR_MC_LINKLOCAL(&address)) {
    uint32_t number = if_nametoindex(scope);
    if (number != 0) {
      *result = number;
      return true;
    }
  }
  if (scope[0] >= '0' && scope[0] <= '9') {
    char* end;
    unsigned long long number = std::strtoull(scope, &end, 10);
    if (*end == '\0' && number <= UINT32_MAX) {
      *result = static_cast<uint32_t>(number);
      return true;
    }
  }
  errno = EINVAL;
  return false;
}

void map_v4_to_v6(std::array<uint32_t, 4>& addr) {
  addr[3] = addr[0];
  addr[2] = htonl(0xffff);
  addr[1] = 0;
  addr[0] = 0;
}

char* dup_string(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

}  // namespace

struct AresLookups::Result {
  std::vector<AddressTuple> at;
  std::optional<std::string> canon;
  bool got_ipv6 = false;

  void reset() {
    at.clear();
    canon.reset();
    got_ipv6 = false;
  }
};

namespace {

// glibc's convert_hostent_to_gaih_addrtuple, appending to res.
void append_hostent(const addrinfo* req, int family, const HostData& h,
                    std::vector<AddressTuple>* at, bool* got_ipv6) {
  if (h.addresses.empty() || h.length > 16) return;
  *got_ipv6 = family == AF_INET6;
  const size_t first = at->size();
  for (const auto& raw : h.addresses) {
    AddressTuple t;
    if (family == AF_INET && req->ai_family == AF_INET6) {
      t.family = AF_INET6;
      std::memcpy(&t.addr[3], raw.data(), 4);
      t.addr[2] = htonl(0xffff);
    } else {
      t.family = family;
      std::memcpy(t.addr.data(), raw.data(), static_cast<size_t>(h.length));
    }
    at->push_back(std::move(t));
  }
  (*at)[first].name = h.name;
}

}  // namespace

int AresLookups::try_simple_gethostbyname(const char* name, const addrinfo* req, Result* res) {
  res->at.clear();
  if (req->ai_family != AF_INET || (req->ai_flags & AI_CANONNAME) != 0) return 0;
  std::vector<char> buffer(1024);
  hostent th{};
  hostent* h = nullptr;
  int herrno = 0;
  int rc;
  while (true) {
    rc = database_.gethostbyname2_r(name, AF_INET, &th, buffer.data(), buffer.size(), &h, &herrno);
    if (rc != ERANGE || herrno != NETDB_INTERNAL) break;
    buffer.resize(buffer.size() * 2);
  }
  h_errno = herrno;
  if (rc == 0) {
    if (h != nullptr) {
      HostData data;
      data.name = h->h_name;
      data.family = h->h_addrtype;
      data.length = h->h_length;
      for (char** a = h->h_addr_list; *a != nullptr; ++a) {
        std::array<unsigned char, 16> raw{};
        std::memcpy(raw.data(), *a, static_cast<size_t>(h->h_length) <= 16 ? h->h_length : 16);
        data.addresses.push_back(raw);
      }
      append_hostent(req, AF_INET, data, &res->at, &res->got_ipv6);
      return 0;
    }
    if (herrno == NO_DATA) return EAI_NODATA;
    return EAI_NONAME;
  }
  if (herrno == NETDB_INTERNAL) return EAI_SYSTEM;
  if (herrno == TRY_AGAIN) return EAI_AGAIN;
  return EAI_NODATA;
}

int AresLookups::get_nss_addresses(const char* name, const addrinfo* req, Result* res) {
  int no_data = 0;
  int no_inet6_data = 0;
  nss_status inet6_status = NSS_STATUS_UNAVAIL;
  nss_status status = NSS_STATUS_UNAVAIL;
  int herrno = 0;  // glibc's h_errno, as the sources leave it
  int result = 0;

  for (HostsSource source : hosts_.sources()) {
    res->reset();
    no_data = 0;
    if (req->ai_family == AF_UNSPEC) {
      NssOutcome o = sources_.gethostbyname4(source, name, &res->at);
      status = o.status;
      herrno = o.herrno;
      if (o.error != 0) errno = o.error;
      if (status != NSS_STATUS_SUCCESS) {
        res->at.clear();
        no_data = herrno == TRY_AGAIN ? EAI_AGAIN : herrno == NO_DATA;
      } else {
        no_data = 1;
        if ((req->ai_flags & AI_CANONNAME) != 0 && !res->canon && !res->at.empty() &&
            res->at[0].name) {
          res->canon = *res->at[0].name;
        }
        std::vector<AddressTuple> kept;
        for (AddressTuple& t : res->at) {
          if (t.family == AF_INET && req->ai_family == AF_INET6 &&
              (req->ai_flags & AI_V4MAPPED) != 0) {
            t.family = AF_INET6;
            map_v4_to_v6(t.addr);
            kept.push_back(std::move(t));
            no_data = 0;
          } else if (req->ai_family == AF_UNSPEC || t.family == req->ai_family) {
            kept.push_back(std::move(t));
            no_data = 0;
            if (req->ai_family == AF_INET6) res->got_ipv6 = true;
          }
        }
        res->at = std::move(kept);
      }
      no_inet6_data = no_data;
    } else {
      // gethostbyname3_r when the canonical name is wanted, else
      // gethostbyname2_r (which, in nss_dns, checks the name first).
      const bool canonname = (req->ai_flags & AI_CANONNAME) != 0;
      auto gethosts = [&](int family) -> int {
        HostData h;
        std::string localcanon;
        NssOutcome o = sources_.gethostbyname3(source, name, family, !canonname, &h,
                                               canonname ? &localcanon : nullptr);
        status = o.status;
        herrno = o.herrno;
        if (o.error != 0) errno = o.error;
        no_data = 0;
        if (status == NSS_STATUS_NOTFOUND || status == NSS_STATUS_TRYAGAIN ||
            status == NSS_STATUS_UNAVAIL) {
          if (herrno == NETDB_INTERNAL) return EAI_SYSTEM;
          no_data = herrno == TRY_AGAIN ? EAI_AGAIN : herrno == NO_DATA;
        } else if (status == NSS_STATUS_SUCCESS) {
          append_hostent(req, family, h, &res->at, &res->got_ipv6);
          if (!localcanon.empty() && !res->canon) res->canon = localcanon;
        }
        return 0;
      };
      if (req->ai_family == AF_INET6) {
        if ((result = gethosts(AF_INET6)) != 0) {
          h_errno = herrno;
          res->reset();
          return result;
        }
        no_inet6_data = no_data;
        inet6_status = status;
      }
      if (req->ai_family == AF_INET ||
          (req->ai_family == AF_INET6 && (req->ai_flags & AI_V4MAPPED) != 0 &&
           ((req->ai_flags & AI_ALL) != 0 || !res->got_ipv6))) {
        if ((result = gethosts(AF_INET)) != 0) {
          h_errno = herrno;
          res->reset();
          return result;
        }
        if (req->ai_family == AF_INET) {
          no_inet6_data = no_data;
          inet6_status = status;
        }
      }
      if (inet6_status == NSS_STATUS_SUCCESS || status == NSS_STATUS_SUCCESS) {
        // glibc's getcanonname fallback returns a copy of the name.
        if (canonname && !res->canon) res->canon = name;
        status = NSS_STATUS_SUCCESS;
      } else if (inet6_status == NSS_STATUS_TRYAGAIN) {
        status = NSS_STATUS_TRYAGAIN;
      } else if (status == NSS_STATUS_UNAVAIL && inet6_status != NSS_STATUS_UNAVAIL) {
        status = inet6_status;
      }
    }
    // Default actions: only SUCCESS returns.
    if (status == NSS_STATUS_SUCCESS) break;
  }
  h_errno = herrno;

  if ((status == NSS_STATUS_TRYAGAIN || status == NSS_STATUS_UNAVAIL) && herrno == NETDB_INTERNAL) {
    res->reset();
    return EAI_SYSTEM;
  }
  if (no_data != 0 && no_inet6_data != 0) {
    res->reset();
    return no_data == EAI_AGAIN && no_inet6_data == EAI_AGAIN ? EAI_AGAIN : EAI_NODATA;
  }
  return 0;
}

int AresLookups::gaih_inet(const char* name, int service_num, const char* service_name,
                           bool has_service, const addrinfo* req, addrinfo** pai,
                           unsigned* naddrs) {
  ServTuple st[kTypeProtoCount];
  if (int rc = get_servtuples(has_service, service_num, service_name, req, st); rc != 0) return rc;

  Result res;
  const char* orig_name = name;
  int result = 0;
  bool found = false;

  if (name == nullptr) {
    // glibc's get_local_addresses.
    if (req->ai_family == AF_UNSPEC || req->ai_family == AF_INET6) {
      AddressTuple t;
      t.family = AF_INET6;
      if ((req->ai_flags & AI_PASSIVE) == 0) std::memcpy(t.addr.data(), &in6addr_loopback, 16);
      res.at.push_back(t);
    }
    if (req->ai_family == AF_UNSPEC || req->ai_family == AF_INET) {
      AddressTuple t;
      t.family = AF_INET;
      if ((req->ai_flags & AI_PASSIVE) == 0) t.addr[0] = htonl(INADDR_LOOPBACK);
      res.at.push_back(t);
    }
    found = true;
  }

  if (!found) {
    // glibc's text_to_binary_address.
    AddressTuple t;
    in_addr a4;
    if (inet_aton_exact(name, &a4)) {
      std::memcpy(&t.addr[0], &a4, 4);
      if (req->ai_family == AF_UNSPEC || req->ai_family == AF_INET) {
        t.family = AF_INET;
      } else if (req->ai_family == AF_INET6 && (req->ai_flags & AI_V4MAPPED) != 0) {
        map_v4_to_v6(t.addr);
        t.family = AF_INET6;
      } else {
        return EAI_ADDRFAMILY;
      }
      if ((req->ai_flags & AI_CANONNAME) != 0) res.canon = name;
      res.at.push_back(t);
      found = true;
    } else {
      const char* scope = std::strchr(name, '%');
      std::string host = scope != nullptr ? std::string(name, scope) : std::string(name);
      in6_addr a6;
      if (inet_pton(AF_INET6, host.c_str(), &a6) > 0) {
        std::memcpy(t.addr.data(), &a6, 16);
        if (req->ai_family == AF_UNSPEC || req->ai_family == AF_INET6) {
          t.family = AF_INET6;
        } else if (req->ai_family == AF_INET && IN6_IS_ADDR_V4MAPPED(&a6)) {
          t.addr[0] = t.addr[3];
          t.family = AF_INET;
        } else {
          return EAI_ADDRFAMILY;
        }
        if (scope != nullptr && !scope_id_from_text(a6, scope + 1, &t.scopeid)) return EAI_NONAME;
        if ((req->ai_flags & AI_CANONNAME) != 0) res.canon = name;
        res.at.push_back(t);
        found = true;
      } else if ((req->ai_flags & AI_NUMERICHOST) != 0) {
        return EAI_NONAME;
      }
    }
  }

  if (!found) {
    if ((result = try_simple_gethostbyname(name, req, &res)) != 0) return result;
    found = !res.at.empty();
  }
  if (!found) {
    if ((result = get_nss_addresses(name, req, &res)) != 0) return result;
    found = !res.at.empty();
  }
  if (!found) return EAI_NONAME;

  // process_canonname
  if ((req->ai_flags & AI_CANONNAME) != 0 && !res.canon) res.canon = orig_name;

  // generate_addrinfo
  addrinfo** tail = pai;
  for (const AddressTuple& at : res.at) {
    const int family = at.family;
    socklen_t socklen;
    if (family == AF_INET6) {
      socklen = sizeof(sockaddr_in6);
      const auto* a6 = reinterpret_cast<const in6_addr*>(at.addr.data());
      if (res.got_ipv6 && (req->ai_flags & (AI_V4MAPPED | AI_ALL)) == AI_V4MAPPED &&
          IN6_IS_ADDR_V4MAPPED(a6)) {
        continue;
      }
    } else {
      socklen = sizeof(sockaddr_in);
    }
    for (size_t i = 0; i < kTypeProtoCount && st[i].set; ++i) {
      auto* ai = static_cast<addrinfo*>(std::malloc(sizeof(addrinfo) + socklen));
      if (ai == nullptr) return EAI_MEMORY;
      std::memset(ai, 0, sizeof(addrinfo) + socklen);
      *tail = ai;
      ai->ai_flags = req->ai_flags;
      ai->ai_family = family;
      ai->ai_socktype = st[i].socktype;
      ai->ai_protocol = st[i].protocol;
      ai->ai_addrlen = socklen;
      ai->ai_addr = reinterpret_cast<sockaddr*>(ai + 1);
      if (res.canon) {
        ai->ai_canonname = dup_string(*res.canon);
        res.canon.reset();
        if (ai->ai_canonname == nullptr) return EAI_MEMORY;
      }
      ai->ai_addr->sa_family = static_cast<sa_family_t>(family);
      ai->ai_next = nullptr;
      if (family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
        sin6->sin6_port = static_cast<in_port_t>(st[i].port);
        sin6->sin6_flowinfo = 0;
        std::memcpy(&sin6->sin6_addr, at.addr.data(), sizeof(in6_addr));
        sin6->sin6_scope_id = at.scopeid;
      } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
        sin->sin_port = static_cast<in_port_t>(st[i].port);
        std::memcpy(&sin->sin_addr, at.addr.data(), sizeof(in_addr));
      }
      tail = &ai->ai_next;
    }
    ++*naddrs;
  }
  return 0;
}

int AresLookups::getaddrinfo(const char* name, const char* service, const addrinfo* hints,
                             addrinfo** pai) {
  if (name != nullptr && name[0] == '*' && name[1] == '\0') name = nullptr;
  if (service != nullptr && service[0] == '*' && service[1] == '\0') service = nullptr;
  if (name == nullptr && service == nullptr) return EAI_NONAME;

  addrinfo default_hints{};
  default_hints.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;  // glibc's AI_DEFAULT
  default_hints.ai_family = AF_UNSPEC;
  if (hints == nullptr) hints = &default_hints;

  if ((hints->ai_flags &
       ~(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_ADDRCONFIG | AI_V4MAPPED | AI_IDN |
         AI_CANONIDN | kDeprecatedAiIdn | AI_NUMERICSERV | AI_ALL)) != 0) {
    return EAI_BADFLAGS;
  }
  if ((hints->ai_flags & AI_CANONNAME) != 0 && name == nullptr) return EAI_BADFLAGS;
  if (hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET &&
      hints->ai_family != AF_INET6) {
    return EAI_FAMILY;
  }

  addrinfo local_hints;
  std::optional<InterfaceInfo> interfaces;
  if ((hints->ai_flags & AI_ADDRCONFIG) != 0) {
    interfaces = query_interfaces();
    const bool v4 = interfaces->seen_ipv4;
    const bool v6 = interfaces->seen_ipv6;
    if (hints->ai_family == AF_UNSPEC && (v4 || v6)) {
      if (v4 != v6) {
        local_hints = *hints;
        local_hints.ai_family = v4 ? AF_INET : AF_INET6;
        hints = &local_hints;
      }
    } else if ((hints->ai_family == AF_INET && !v4) || (hints->ai_family == AF_INET6 && !v6)) {
      return EAI_NONAME;
    }
  }

  bool has_service = false;
  int service_num = -1;
  if (service != nullptr && service[0] != '\0') {
    char* end;
    service_num = static_cast<int>(std::strtoul(service, &end, 10));
    if (*end != '\0') {
      if ((hints->ai_flags & AI_NUMERICSERV) != 0) return EAI_NONAME;
      service_num = -1;
    }
    has_service = true;
  }

  addrinfo* p = nullptr;
  unsigned naddrs = 0;
  int last_i = gaih_inet(name, service_num, service, has_service, hints, &p, &naddrs);
  if (last_i != 0) {
    libc_resolver().freeaddrinfo(p);
    return last_i;
  }
  if (naddrs > 1) {
    if (!interfaces) interfaces = query_interfaces();
    sort_addresses_rfc3484(&p, *interfaces);
  }
  if (p != nullptr) {
    *pai = p;
    return 0;
  }
  return EAI_NONAME;
}

}  // namespace greenhub::detail
