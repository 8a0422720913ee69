#include "dns_answer.hpp"

#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include <cerrno>
#include <cstring>

namespace greenhub::detail {

namespace {

constexpr size_t kMaxHostNameLength = 256;  // nss_dns's MAXHOSTNAMELEN

// A resource record, its owner name uncompressed (wire format).
struct Record {
  unsigned char owner[NS_MAXCDNAME];
  uint16_t type = 0;
  uint16_t klass = 0;
  uint16_t rdlength = 0;
  const unsigned char* rdata = nullptr;
};

// Walks the answer section (glibc's struct ns_rr_cursor).
class RecordCursor {
 public:
  bool init(const unsigned char* packet, size_t length) {
    begin_ = packet;
    end_ = packet + length;
    if (length < HFIXEDSZ || packet[4] != 0 || packet[5] != 1) return false;
    current_ = packet + HFIXEDSZ;
    // The question name must be uncompressed.
    const unsigned char* p = current_;
    while (true) {
      if (p >= end_) return false;
      unsigned label = *p;
      if (label == 0) {
        ++p;
        break;
      }
      if (label > 63) return false;
      p += 1 + label;
    }
    if (end_ - p < 4) return false;
    qtype_ = static_cast<uint16_t>(p[0] << 8 | p[1]);
    current_ = p + 4;
    return true;
  }

  const unsigned char* begin() const { return begin_; }
  const unsigned char* end() const { return end_; }
  const unsigned char* qname() const { return begin_ + HFIXEDSZ; }
  int qtype() const { return qtype_; }
  int rcode() const { return begin_[3] & 0x0f; }
  int ancount() const { return begin_[6] << 8 | begin_[7]; }

  bool next(Record* rr) {
    int consumed = ns_name_unpack(begin_, end_, current_, rr->owner, sizeof rr->owner);
    if (consumed < 0) return false;
    current_ += consumed;
    if (end_ - current_ < 10) return false;
    rr->type = static_cast<uint16_t>(current_[0] << 8 | current_[1]);
    rr->klass = static_cast<uint16_t>(current_[2] << 8 | current_[3]);
    rr->rdlength = static_cast<uint16_t>(current_[8] << 8 | current_[9]);
    current_ += 10;
    if (end_ - current_ < rr->rdlength) return false;
    rr->rdata = current_;
    current_ += rr->rdlength;
    return true;
  }

 private:
  const unsigned char* begin_ = nullptr;
  const unsigned char* end_ = nullptr;
  const unsigned char* current_ = nullptr;
  uint16_t qtype_ = 0;
};

bool binary_hnok(const unsigned char* dn) {
  if (dn[0] > 0 && dn[1] == '-') return false;
  while (true) {
    size_t label = *dn;
    if (label == 0) return true;
    ++dn;
    const unsigned char* label_end = dn + label;
    do {
      unsigned char ch = *dn;
      if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            ch == '-' || ch == '_')) {
        return false;
      }
      ++dn;
    } while (dn < label_end);
  }
}

unsigned char ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

// glibc's __ns_samebinaryname: equal names, ASCII case ignored.
bool same_binary_name(const unsigned char* a, const unsigned char* b) {
  while (true) {
    if (*a != *b) return false;
    size_t label = *a;
    if (label == 0) return true;
    ++a;
    ++b;
    for (size_t i = 0; i < label; ++i) {
      if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    a += label;
    b += label;
  }
}

int rdata_length_for(int type) {
  switch (type) {
    case ns_t_a:
      return NS_INADDRSZ;
    case ns_t_aaaa:
      return NS_IN6ADDRSZ;
    default:
      return -1;
  }
}

// A wire-format name as text, if it is a host name of acceptable length.
bool host_name_text(const unsigned char* dn, std::string* out) {
  if (!binary_hnok(dn)) return false;
  char text[kMaxHostNameLength + 1];
  if (ns_name_ntop(dn, text, sizeof text) < 0) return false;
  *out = text;
  return true;
}

// nss_dns addrsort: stable insertion by sortlist rank.
void sort_addresses(const std::vector<SortlistEntry>& sortlist,
                    std::vector<std::array<unsigned char, 16>>* addresses,
                    std::vector<size_t>* order) {
  const size_t num = addresses->size() > 48 ? 48 : addresses->size();  // MAX_NR_ADDRS
  std::vector<short> rank(num);
  size_t needsort = 0;
  for (size_t i = 0; i < num; ++i) {
    uint32_t addr;
    std::memcpy(&addr, (*addresses)[i].data(), 4);
    size_t j = 0;
    for (; j < sortlist.size(); ++j) {
      if (sortlist[j].address.s_addr == (addr & sortlist[j].mask)) break;
    }
    rank[i] = static_cast<short>(j);
    if (needsort == 0 && i > 0 && rank[i] < rank[i - 1]) needsort = i;
  }
  if (needsort == 0) return;
  while (needsort++ < num) {
    for (size_t j = needsort - 1; j-- > 0;) {
      if (rank[j] > rank[j + 1]) {
        std::swap(rank[j], rank[j + 1]);
        std::swap((*addresses)[j], (*addresses)[j + 1]);
        std::swap((*order)[j], (*order)[j + 1]);
      } else {
        break;
      }
    }
  }
}

NssOutcome unavailable_no_recovery() { return NssOutcome{NSS_STATUS_UNAVAIL, NO_RECOVERY, 0}; }

// gaih_getanswer_slice.
NssOutcome address_slice(const unsigned char* packet, size_t length, std::vector<AddressTuple>* out,
                         bool store_canon) {
  RecordCursor c;
  if (!c.init(packet, length)) return unavailable_no_recovery();
  const int qtype = c.qtype();
  int ancount = c.ancount();
  const unsigned char* expected = c.qname();
  unsigned char name_buffer[NS_MAXCDNAME];
  // Points at a possibly compressed name in the packet: the canonical
  // name so far.
  const unsigned char* alias = expected;
  if (ancount == 0 || !binary_hnok(alias))
    return NssOutcome{NSS_STATUS_NOTFOUND, HOST_NOT_FOUND, 0};

  bool have_answer = false;
  for (; ancount > 0; --ancount) {
    Record rr;
    if (!c.next(&rr)) return unavailable_no_recovery();
    if (rr.type == ns_t_cname) {
      if (ns_name_unpack(c.begin(), c.end(), rr.rdata, name_buffer, sizeof name_buffer) < 0) {
        return unavailable_no_recovery();
      }
      expected = name_buffer;
      if (store_canon && binary_hnok(name_buffer)) alias = rr.rdata;
    } else if (rr.type == qtype && same_binary_name(rr.owner, expected) &&
               rr.rdlength == rdata_length_for(qtype)) {
      AddressTuple tuple;
      if (store_canon && alias != nullptr) {
        unsigned char nbuf[NS_MAXCDNAME];
        char hname[kMaxHostNameLength + 1];
        if (ns_name_unpack(c.begin(), c.end(), alias, nbuf, sizeof nbuf) >= 0 &&
            ns_name_ntop(nbuf, hname, sizeof hname) >= 0) {
          tuple.name = std::string(hname);
        }
        store_canon = false;
      }
      tuple.family = rr.rdlength == 4 ? AF_INET : AF_INET6;
      std::memcpy(tuple.addr.data(), rr.rdata, rr.rdlength);
      tuple.scopeid = 0;
      out->push_back(std::move(tuple));
      have_answer = true;
    }
  }
  if (have_answer) return NssOutcome{NSS_STATUS_SUCCESS, NETDB_SUCCESS, 0};
  // Only a CNAME where an address was expected.
  return NssOutcome{NSS_STATUS_NOTFOUND, HOST_NOT_FOUND, 0};
}

}  // namespace

bool is_host_name(const char* name) { return res_hnok(name) != 0; }

NssOutcome parse_host_answer(const unsigned char* packet, size_t length, int qtype,
                             const std::vector<SortlistEntry>& sortlist, HostData* out) {
  RecordCursor c;
  if (!c.init(packet, length)) return unavailable_no_recovery();

  std::vector<std::string> aliases;
  std::vector<HostData::Allocation> layout;
  std::string text;
  if (c.rcode() == ns_r_nxdomain || !host_name_text(c.qname(), &text)) {
    return NssOutcome{NSS_STATUS_NOTFOUND, HOST_NOT_FOUND, ENOENT};
  }
  layout.push_back({false, aliases.size()});
  aliases.push_back(text);

  int ancount = c.ancount();
  const unsigned char* expected = c.qname();
  unsigned char name_buffer[NS_MAXCDNAME];
  std::vector<std::array<unsigned char, 16>> addresses;
  for (; ancount > 0; --ancount) {
    Record rr;
    if (!c.next(&rr)) return unavailable_no_recovery();
    if (rr.klass != ns_c_in) continue;
    if (rr.type == ns_t_cname) {
      if (ns_name_unpack(c.begin(), c.end(), rr.rdata, name_buffer, sizeof name_buffer) < 0) {
        return unavailable_no_recovery();
      }
      if (host_name_text(name_buffer, &text)) {
        layout.push_back({false, aliases.size()});
        aliases.push_back(text);
      }
      expected = name_buffer;
    } else if (rr.type == qtype && same_binary_name(rr.owner, expected) &&
               rr.rdlength == rdata_length_for(qtype)) {
      std::array<unsigned char, 16> address{};
      std::memcpy(address.data(), rr.rdata, rr.rdlength);
      layout.push_back({true, addresses.size()});
      addresses.push_back(address);
    }
  }
  if (addresses.empty()) return NssOutcome{NSS_STATUS_TRYAGAIN, NO_RECOVERY, ENOENT};

  out->family = qtype == ns_t_a ? AF_INET : AF_INET6;
  out->length = qtype == ns_t_a ? NS_INADDRSZ : NS_IN6ADDRSZ;
  // The sortlist reorders the pointers, not the addresses in the buffer:
  // the layout follows each address to its new place.
  std::vector<size_t> order(addresses.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (qtype == ns_t_a && !sortlist.empty()) sort_addresses(sortlist, &addresses, &order);
  std::vector<size_t> position(order.size());
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  for (HostData::Allocation& a : layout) {
    if (a.is_address) a.index = position[a.index];
  }
  out->addresses = std::move(addresses);
  out->layout = std::move(layout);
  out->name = aliases.back();
  aliases.pop_back();
  out->aliases = std::move(aliases);
  return NssOutcome{NSS_STATUS_SUCCESS, NETDB_SUCCESS, 0};
}

NssOutcome parse_address_answers(const unsigned char* packet1, size_t length1,
                                 const unsigned char* packet2, size_t length2,
                                 std::vector<AddressTuple>* out) {
  NssOutcome outcome{NSS_STATUS_NOTFOUND, 0, 0};
  if (length1 > 0) outcome = address_slice(packet1, length1, out, true);
  if ((outcome.status == NSS_STATUS_SUCCESS || outcome.status == NSS_STATUS_NOTFOUND) &&
      packet2 != nullptr && length2 > 0) {
    // After a success the canonical name is stored already.
    NssOutcome second = address_slice(packet2, length2, out, outcome.status != NSS_STATUS_SUCCESS);
    if (outcome.status != NSS_STATUS_SUCCESS && second.status != NSS_STATUS_NOTFOUND) {
      outcome.status = second.status;
    }
    // The second slice's h_errno is what glibc leaves behind.
    outcome.herrno = second.herrno;
  }
  return outcome;
}

NssOutcome parse_ptr_answer(const unsigned char* packet, size_t length, std::string* name) {
  RecordCursor c;
  if (!c.init(packet, length)) return unavailable_no_recovery();
  int ancount = c.ancount();
  const unsigned char* expected = c.qname();
  unsigned char name_buffer[NS_MAXCDNAME];
  while (ancount > 0) {
    Record rr;
    if (!c.next(&rr)) return unavailable_no_recovery();
    // glibc never decrements the count here: the loop ends when the cursor
    // runs out of records (next fails) or a PTR matches.
    if (rr.klass != ns_c_in) continue;
    if (rr.type == ns_t_cname) {
      if (ns_name_unpack(c.begin(), c.end(), rr.rdata, name_buffer, sizeof name_buffer) < 0) {
        return unavailable_no_recovery();
      }
      expected = name_buffer;
    } else if (rr.type == ns_t_ptr && same_binary_name(rr.owner, expected)) {
      // As in glibc, the target is unpacked into name_buffer, which the
      // expected name may point to (after a CNAME): the host-name check
      // then applies to the target.
      char hname[kMaxHostNameLength + 1];
      if (ns_name_unpack(c.begin(), c.end(), rr.rdata, name_buffer, sizeof name_buffer) < 0 ||
          !binary_hnok(expected) || ns_name_ntop(name_buffer, hname, sizeof hname) < 0) {
        return unavailable_no_recovery();
      }
      *name = hname;
      return NssOutcome{NSS_STATUS_SUCCESS, NETDB_SUCCESS, 0};
    }
  }
  return NssOutcome{NSS_STATUS_TRYAGAIN, NO_RECOVERY, ENOENT};
}

}  // namespace greenhub::detail
