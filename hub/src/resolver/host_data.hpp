// Values that the hosts lookups pass around: what glibc's NSS functions put
// in a struct hostent or a list of struct gaih_addrtuple, as owned C++
// values, plus the (status, h_errno, errno) triple they report.
#pragma once

#include <netinet/in.h>
#include <nss.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace greenhub::detail {

// An NSS function's outcome.
struct NssOutcome {
  nss_status status = NSS_STATUS_UNAVAIL;
  int herrno = 0;  // what it stored through h_errnop
  int error = 0;   // what it stored through errnop (0: left alone)
};

// The contents of a struct hostent.
struct HostData {
  std::string name;
  std::vector<std::string> aliases;
  int family = AF_INET;
  int length = 4;  // bytes per address
  std::vector<std::array<unsigned char, 16>> addresses;

  // For a hostent built by nss_dns from an answer: the order in which it
  // allocated the names and addresses in the caller's buffer (see
  // AllocBuffer). A name is an index into aliases + [name] (the chain in
  // order); an address an index into addresses.
  struct Allocation {
    bool is_address;
    size_t index;
  };
  std::vector<Allocation> layout;
};

// One struct gaih_addrtuple: an address of a getaddrinfo lookup; the first
// tuple a source produced carries the name the source reports as
// canonical.
struct AddressTuple {
  int family = AF_INET;
  std::array<uint32_t, 4> addr{};  // network byte order, like gaih_addrtuple
  uint32_t scopeid = 0;
  std::optional<std::string> name;
};

}  // namespace greenhub::detail
