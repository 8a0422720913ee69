// Results of lookups written out in full, so that two results compare as
// strings and a difference shows in the failure message: every field of
// every addrinfo entry in order, every field of a hostent, an answer's
// bytes in hex.
#pragma once

#include <netdb.h>

#include <string>

namespace dnstest {

std::string describe_addrinfo(int rc, const addrinfo* list);
std::string describe_hostent(int rc, const hostent* result, int herrno);
std::string describe_hostent_ptr(const hostent* result, int herrno);
std::string describe_nameinfo(int rc, const char* host, const char* serv);
// res_query & co.: the return value, h_errno, errno (on failure), and the
// answer bytes
// (up to the returned length and the buffer size); with mask_id, the
// message ID (random in each query glibc builds) is left out.
std::string describe_answer(int rc, int herrno, int error, const unsigned char* answer, int anslen,
                            bool mask_id);

}  // namespace dnstest
