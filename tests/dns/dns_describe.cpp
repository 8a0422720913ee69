#include "dns_describe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <string>

namespace dnstest {

namespace {

std::string address_text(int family, const void* bytes) {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family, bytes, text, sizeof text);
  return text;
}

std::string hex(const unsigned char* bytes, size_t n) {
  std::string out;
  char b[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", bytes[i]);
    out += b;
  }
  return out;
}

}  // namespace

std::string describe_addrinfo(int rc, const addrinfo* list) {
  std::string out = "rc=" + std::to_string(rc);
  if (rc != 0) return out + " (" + gai_strerror(rc) + ")";
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    out += "\n  flags=" + std::to_string(a->ai_flags) + " family=" + std::to_string(a->ai_family) +
           " socktype=" + std::to_string(a->ai_socktype) +
           " protocol=" + std::to_string(a->ai_protocol) +
           " addrlen=" + std::to_string(a->ai_addrlen);
    if (a->ai_addr != nullptr && a->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      out += " addr=" + address_text(AF_INET, &sin->sin_addr) +
             " port=" + std::to_string(ntohs(sin->sin_port)) +
             " raw=" + hex(reinterpret_cast<const unsigned char*>(sin), sizeof *sin);
    } else if (a->ai_addr != nullptr && a->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      out += " addr=" + address_text(AF_INET6, &sin6->sin6_addr) +
             " port=" + std::to_string(ntohs(sin6->sin6_port)) +
             " scope=" + std::to_string(sin6->sin6_scope_id) +
             " raw=" + hex(reinterpret_cast<const unsigned char*>(sin6), sizeof *sin6);
    }
    out += " canon=" + (a->ai_canonname != nullptr ? "'" + std::string(a->ai_canonname) + "'"
                                                   : std::string("null"));
  }
  return out;
}

std::string describe_hostent_ptr(const hostent* h, int herrno) {
  std::string out = "h_errno=" + std::to_string(herrno);
  if (h == nullptr) return out + " result=null";
  out += " name='" + std::string(h->h_name != nullptr ? h->h_name : "(null)") + "'";
  out += " type=" + std::to_string(h->h_addrtype) + " length=" + std::to_string(h->h_length);
  out += " aliases=[";
  for (char** a = h->h_aliases; a != nullptr && *a != nullptr; ++a) out += std::string(*a) + " ";
  out += "] addresses=[";
  for (char** a = h->h_addr_list; a != nullptr && *a != nullptr; ++a) {
    out +=
        (h->h_length == 4 || h->h_length == 16
             ? address_text(h->h_length == 4 ? AF_INET : AF_INET6, *a)
             : hex(reinterpret_cast<const unsigned char*>(*a), static_cast<size_t>(h->h_length))) +
        " ";
  }
  return out + "]";
}

std::string describe_hostent(int rc, const hostent* result, int herrno) {
  return "rc=" + std::to_string(rc) + " " + describe_hostent_ptr(result, herrno);
}

std::string describe_nameinfo(int rc, const char* host, const char* serv) {
  std::string out = "rc=" + std::to_string(rc);
  if (rc != 0) return out;
  out += " host=" + (host != nullptr ? "'" + std::string(host) + "'" : std::string("null"));
  out += " serv=" + (serv != nullptr ? "'" + std::string(serv) + "'" : std::string("null"));
  return out;
}

std::string describe_answer(int rc, int herrno, int error, const unsigned char* answer, int anslen,
                            bool mask_id) {
  std::string out = "rc=" + std::to_string(rc) + " h_errno=" + std::to_string(herrno);
  if (rc < 0) return out + " errno=" + std::to_string(error);
  if (rc == 0) return out;
  size_t n = static_cast<size_t>(rc < anslen ? rc : anslen);
  size_t from = mask_id && n >= 2 ? 2 : 0;
  return out + " answer=" + hex(answer + from, n - from);
}

}  // namespace dnstest
