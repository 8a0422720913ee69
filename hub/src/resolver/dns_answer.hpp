// Reading DNS answers the way glibc's nss_dns module reads them (glibc 2.36
// as Debian 12 ships it, with the rewritten parser of resolv/nss_dns).
//
//   - An address record counts only if its owner is the name asked for, or
//     the target of the last CNAME seen before it (compared case-blind),
//     its type is the one asked for, and its length fits the type.
//   - Names that are not host names (res_hnok: [0-9A-Za-z_-] labels, no
//     leading '-') are not used as names; a CNAME to such a name still
//     moves the expected owner.
//   - getaddrinfo's canonical name is the last usable CNAME target seen
//     before the first address, else the name asked for; gethostbyname's
//     h_name is the last usable name of the chain and its aliases the
//     others, the name asked for first.
//   - gethostbyaddr takes the first PTR record whose owner is the name
//     asked for (or the CNAME target), if its target is a host name.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dns_config.hpp"
#include "host_data.hpp"

namespace greenhub::detail {

// nss_dns getanswer_r: an A (T_A) or AAAA (T_AAAA) answer as a hostent, its
// addresses sorted by the resolv.conf sortlist for A records.
NssOutcome parse_host_answer(const unsigned char* packet, size_t length, int qtype,
                             const std::vector<SortlistEntry>& sortlist, HostData* out);

// nss_dns gaih_getanswer: the answers to getaddrinfo's A and AAAA queries
// (answer 1 and answer 2 in arrival order; a length of 0 means none).
NssOutcome parse_address_answers(const unsigned char* packet1, size_t length1,
                                 const unsigned char* packet2, size_t length2,
                                 std::vector<AddressTuple>* out);

// nss_dns getanswer_ptr: the host name of a PTR answer.
NssOutcome parse_ptr_answer(const unsigned char* packet, size_t length, std::string* name);

// res_hnok on a text name (glibc's check before asking DNS for a host).
bool is_host_name(const char* name);

}  // namespace greenhub::detail
