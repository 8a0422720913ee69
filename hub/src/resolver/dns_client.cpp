#include "dns_client.hpp"

#include <arpa/nameser.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace greenhub::detail {

namespace {

constexpr int kQueryBufferSize = 1024;  // any valid name fits (glibc: QUERYSIZE)
constexpr int kEdnsBufferSize = 1200;   // glibc's RESOLV_EDNS_BUFFER_SIZE

thread_local unsigned tls_rotation = 0;  // "options rotate": glibc rotates per thread state

const HEADER* header_of(const std::vector<unsigned char>& bytes) {
  return reinterpret_cast<const HEADER*>(bytes.data());
}

enum class Verdict : uint8_t {
  kGood,      // a usable answer (any rcode but the rejecting ones)
  kRejected,  // SERVFAIL, NOTIMP or REFUSED: try the next server
  kAbandon,   // glibc drops the whole exchange with this server
  kNoAnswer,  // timeout, port unreachable, socket error
};

}  // namespace

struct DnsClient::SendState {
  bool got_somewhere = false;  // something came back from some server
  int transport_errno = ETIMEDOUT;
};

DnsResult DnsClient::send_queries(const DnsQuery* queries, size_t count) {
  DnsResult result;
  const auto& servers = config_->servers();
  if (servers.empty()) {
    result.error = ESRCH;
    return result;
  }
  const unsigned long options = config_->options();
  const bool edns = (options & (RES_USE_EDNS0 | RES_USE_DNSSEC)) != 0;
  bool v_circuit = (options & RES_USEVC) != 0 || queries[0].length > PACKETSZ ||
                   (count > 1 && queries[1].length > PACKETSZ);
  const size_t nscount = std::min<size_t>(servers.size(), MAXNS);
  const size_t rotation = (options & RES_ROTATE) != 0 ? tls_rotation++ % nscount : 0;
  SendState state;
  AresTransport& transport = AresTransport::current();

  const int attempts = config_->attempts();
  for (int attempt = 0; attempt < attempts; ++attempt) {
    for (size_t ns = 0; ns < nscount; ++ns) {
      if (v_circuit) attempt = attempts;  // over TCP, one attempt per server
      int seconds = config_->timeout_seconds() << ns;
      if (ns > 0) seconds /= static_cast<int>(nscount);
      if (seconds <= 0) seconds = 1;
      TransportOptions topts;
      topts.timeout_ms = seconds * 1000;
      topts.use_tcp = v_circuit;
      topts.ignore_tc = (options & RES_IGNTC) != 0;
      topts.udp_payload = edns ? kEdnsBufferSize : 0;

      DnsReply replies[2];
      transport.exchange(servers[(ns + rotation) % nscount], topts, queries, replies, count);

      // Judge the replies in the order they arrived.
      size_t order[2] = {0, 1};
      if (count == 2 && replies[1].arrival < replies[0].arrival) std::swap(order[0], order[1]);
      Verdict verdict[2] = {Verdict::kNoAnswer, Verdict::kNoAnswer};
      bool abandon = false;
      bool stored_first = false;
      for (size_t k = 0; k < count; ++k) {
        DnsReply& reply = replies[order[k]];
        Verdict& v = verdict[order[k]];
        switch (reply.kind) {
          case DnsReply::Kind::kAnswer: {
            state.got_somewhere = true;
            if (reply.bytes.size() < HFIXEDSZ) {
              state.transport_errno = EMSGSIZE;
              abandon = true;
              break;
            }
            auto* h = reinterpret_cast<HEADER*>(reply.bytes.data());
            if ((options & RES_TRUSTAD) == 0) h->ad = 0;
            if (!stored_first) {
              // glibc receives the first reply into answer buffer 1.
              rcode_in_answer_ = h->rcode;
              stored_first = true;
            }
            if (h->rcode == ns_r_formerr && (options & RES_USE_EDNS0) != 0) {
              abandon = true;  // the server rejects EDNS0
            } else if (h->rcode == ns_r_servfail || h->rcode == ns_r_notimpl ||
                       h->rcode == ns_r_refused) {
              v = Verdict::kRejected;
            } else if (h->rcode == ns_r_noerror && h->ancount == 0 && h->aa == 0 && h->ra == 0 &&
                       h->arcount == 0) {
              abandon = true;  // a referral: not an answer
            } else {
              v = Verdict::kGood;
            }
            break;
          }
          case DnsReply::Kind::kTimeout:
            state.got_somewhere = true;
            state.transport_errno = ETIMEDOUT;
            break;
          case DnsReply::Kind::kRefused:
            state.transport_errno = ECONNREFUSED;
            break;
          case DnsReply::Kind::kError:
            break;
        }
      }
      if (abandon) continue;

      if (count == 1) {
        if (verdict[0] != Verdict::kGood) continue;
        result.length = static_cast<int>(replies[0].bytes.size());
        result.answer = std::move(replies[0].bytes);
        result.error = 0;
        return result;
      }
      const size_t first = order[0];
      const size_t second = order[1];
      const bool good_first = verdict[first] == Verdict::kGood;
      const bool good_second = verdict[second] == Verdict::kGood;
      if (!good_first && !good_second) continue;
      if (good_first && good_second) {
        result.length = static_cast<int>(replies[first].bytes.size());
        result.answer = std::move(replies[first].bytes);
        result.length2 = static_cast<int>(replies[second].bytes.size());
        result.answer2 = std::move(replies[second].bytes);
      } else if (good_second && verdict[first] == Verdict::kRejected) {
        // A rejected first reply leaves answer 1 empty; the usable one
        // arrives as answer 2.
        result.length = 0;
        result.answer = std::move(replies[first].bytes);
        result.length2 = static_cast<int>(replies[second].bytes.size());
        result.answer2 = std::move(replies[second].bytes);
      } else {
        const size_t good = good_first ? first : second;
        result.length = static_cast<int>(replies[good].bytes.size());
        result.answer = std::move(replies[good].bytes);
        result.length2 = 0;
      }
      result.error = 0;
      return result;
    }
  }
  result.length = -1;
  result.error = v_circuit ? state.transport_errno : state.got_somewhere ? ETIMEDOUT : ECONNREFUSED;
  return result;
}

bool DnsClient::send_without_aaaa(const DnsQuery& query, int capacity, DnsResult* out) {
  const unsigned char* buf = query.data;
  const int buflen = query.length;
  if (buflen <= static_cast<int>(sizeof(HEADER))) return false;
  HEADER header;
  std::memcpy(&header, buf, sizeof header);
  if (header.qr != 0 || header.opcode != 0 || header.rcode != 0 || ntohs(header.qdcount) != 1 ||
      ntohs(header.ancount) != 0 || ntohs(header.nscount) != 0) {
    return false;
  }
  header.arcount = 0;  // no EDNS0 in the replacement
  unsigned char replacement[sizeof(HEADER) + NS_MAXCDNAME + 4];
  int ret = ns_name_unpack(buf, buf + buflen, buf + sizeof(HEADER), replacement + sizeof(HEADER),
                           NS_MAXCDNAME);
  if (ret < 0) return false;
  const unsigned char* after_question = buf + sizeof(HEADER) + ret;
  if (buf + buflen - after_question < 4 || after_question[0] != 0 ||
      after_question[1] != ns_t_aaaa || after_question[2] != 0 || after_question[3] != ns_c_in) {
    return false;
  }
  std::memcpy(replacement, &header, sizeof header);
  const unsigned char* name_end = replacement + sizeof(HEADER);
  ns_name_skip(&name_end, replacement + sizeof replacement);
  auto* p = const_cast<unsigned char*>(name_end);
  p[0] = 0;
  p[1] = ns_t_a;
  p[2] = 0;
  p[3] = ns_c_in;
  DnsQuery a_query{replacement, static_cast<int>(name_end + 4 - replacement)};
  DnsResult r = send_queries(&a_query, 1);

  // glibc clears the caller's buffer, receives into it, then turns an
  // answer to its A question into an empty answer to the AAAA question.
  const size_t size = capacity > 0 ? static_cast<size_t>(capacity) : 0;
  std::vector<unsigned char> answer(size, 0);
  if (r.length > 0) std::memcpy(answer.data(), r.answer.data(), std::min(size, r.answer.size()));
  const unsigned char* question = answer.data() + sizeof(HEADER);
  const unsigned char* end = answer.data() + size;
  int length = query.length;  // glibc leaves the query's length when nothing is patched
  if (size > sizeof(HEADER) && ns_name_skip(&question, end) == 0 && end - question >= 4 &&
      question[0] == 0 && question[1] == ns_t_a && question[2] == 0 && question[3] == ns_c_in) {
    answer[static_cast<size_t>(question - answer.data()) + 1] = ns_t_aaaa;
    auto* h = reinterpret_cast<HEADER*>(answer.data());
    h->ancount = 0;
    h->nscount = 0;
    h->arcount = 0;
    length = r.length <= 0 ? r.length : static_cast<int>(question - answer.data()) + 4;
  }
  out->length = length;
  out->error = r.error;
  out->answer = std::move(answer);  // `capacity` bytes, like glibc's buffer
  return true;
}

DnsResult DnsClient::run_send(const unsigned char* message, int length, int capacity) {
  DnsResult result;
  if (capacity < HFIXEDSZ || length < HFIXEDSZ) {
    result.error = EINVAL;
    return result;
  }
  DnsQuery query{message, length};
  return send_queries(&query, 1);
}

DnsResult DnsClient::run_query(const char* name, int klass, int type, int capacity) {
  DnsResult result;
  rcode_in_answer_ = ns_r_noerror;
  unsigned char buffer1[kQueryBufferSize];
  unsigned char buffer2[kQueryBufferSize];
  DnsQuery queries[2];
  size_t count = 1;
  int n;
  if (type == kQueryAAndAAAA) {
    n = config_->make_query(name, klass, ns_t_a, buffer1, sizeof buffer1, kEdnsBufferSize);
    if (n > 0) {
      queries[0] = DnsQuery{buffer1, n};
      n = config_->make_query(name, klass, ns_t_aaaa, buffer2, sizeof buffer2, kEdnsBufferSize);
      queries[1] = DnsQuery{buffer2, n};
      count = 2;
    }
  } else {
    n = config_->make_query(name, klass, type, buffer1, sizeof buffer1, capacity);
    queries[0] = DnsQuery{buffer1, n};
  }
  if (n <= 0) {
    result.length = n;
    result.error = errno;  // res_nmkquery's (EMSGSIZE for a bad name)
    herrno_ = NO_RECOVERY;
    return result;
  }
  if (capacity < HFIXEDSZ) {
    // __res_context_send refuses an answer buffer smaller than a header.
    result.length = -1;
    result.error = EINVAL;
    herrno_ = TRY_AGAIN;
    return result;
  }
  if (count == 1 && type == ns_t_aaaa && (config_->options() & RES_NOAAAA) != 0 &&
      send_without_aaaa(queries[0], capacity, &result)) {
    // result holds the rewritten answer (or glibc's zeroed buffer).
  } else {
    result = send_queries(queries, count);
  }
  if (result.length < 0) {
    herrno_ = TRY_AGAIN;
    return result;
  }

  const HEADER* hp = header_of(result.answer);
  const HEADER* hp2;
  if (count == 1 || result.length2 < static_cast<int>(sizeof(HEADER))) {
    hp2 = hp;
  } else {
    hp2 = header_of(result.answer2);
    if (result.length < static_cast<int>(sizeof(HEADER))) hp = hp2;
  }
  if ((hp->rcode != ns_r_noerror || ntohs(hp->ancount) == 0) &&
      (hp2->rcode != ns_r_noerror || ntohs(hp2->ancount) == 0)) {
    const bool answered = (hp->rcode == ns_r_noerror && ntohs(hp->ancount) != 0) ||
                          (hp2->rcode == ns_r_noerror && ntohs(hp2->ancount) != 0);
    switch (hp->rcode == ns_r_noerror ? hp2->rcode : hp->rcode) {
      case ns_r_nxdomain:
        if (answered) return result;
        herrno_ = HOST_NOT_FOUND;
        break;
      case ns_r_servfail:
        herrno_ = TRY_AGAIN;
        break;
      case ns_r_noerror:
        if (ntohs(hp->ancount) != 0 || ntohs(hp2->ancount) != 0) return result;
        herrno_ = NO_DATA;
        break;
      case ns_r_formerr:
      case ns_r_notimpl:
        if (answered) return result;
        herrno_ = NO_RECOVERY;
        break;
      default:
        herrno_ = NO_RECOVERY;
        break;
    }
    result.length = -1;
  }
  return result;
}

DnsResult DnsClient::run_querydomain(const char* name, const char* domain, int klass, int type,
                                     int capacity) {
  char longname[NS_MAXDNAME];
  const char* target = longname;
  const size_t n = std::strlen(name);
  if (domain == nullptr) {
    // glibc decrements the length before this check: "" wraps around too.
    if (n == 0 || n >= NS_MAXDNAME) {
      herrno_ = NO_RECOVERY;
      return DnsResult{};
    }
    if (n > 0 && name[n - 1] == '.') {
      std::memcpy(longname, name, n - 1);
      longname[n - 1] = '\0';
    } else {
      target = name;
    }
  } else {
    const size_t d = std::strlen(domain);
    if (n + d + 1 >= NS_MAXDNAME) {
      herrno_ = NO_RECOVERY;
      return DnsResult{};
    }
    std::memcpy(longname, name, n);
    longname[n] = '.';
    std::memcpy(longname + n + 1, domain, d + 1);
  }
  return run_query(target, klass, type, capacity);
}

DnsResult DnsClient::run_search(const char* name, int klass, int type, int capacity) {
  const unsigned long options = config_->options();
  herrno_ = HOST_NOT_FOUND;  // true if we never query
  int error = 0;             // glibc's res_search clears errno first
  unsigned dots = 0;
  const char* cp = name;
  for (; *cp != '\0'; ++cp) dots += *cp == '.';
  const bool trailing_dot = cp > name && cp[-1] == '.';

  int saved_herrno = -1;
  bool got_nodata = false;
  bool got_servfail = false;
  bool root_on_list = false;
  bool tried_as_is = false;
  bool searched = false;
  DnsResult last;
  auto finish = [&](DnsResult r) {
    r.error = error;
    return r;
  };
  auto found = [](const DnsResult& r) { return r.length > 0 || (r.length == 0 && r.length2 > 0); };

  if (dots >= config_->ndots() || trailing_dot) {
    DnsResult r = run_querydomain(name, nullptr, klass, type, capacity);
    if (r.error >= 0) error = r.error;
    if (found(r) || trailing_dot) return finish(std::move(r));
    saved_herrno = herrno_;
    tried_as_is = true;
    last = std::move(r);
  }

  if ((dots == 0 && (options & RES_DEFNAMES) != 0) ||
      (dots != 0 && !trailing_dot && (options & RES_DNSRCH) != 0)) {
    bool done = false;
    for (size_t i = 0; !done && i < config_->search().size(); ++i) {
      const char* domain = config_->search()[i].c_str();
      searched = true;
      if (domain[0] == '.') ++domain;
      if (domain[0] == '\0') root_on_list = true;
      DnsResult r = run_querydomain(name, domain, klass, type, capacity);
      if (r.error >= 0) error = r.error;
      if (found(r)) return finish(std::move(r));
      last = std::move(r);
      if (error == ECONNREFUSED) {
        herrno_ = TRY_AGAIN;
        last.length = -1;
        return finish(std::move(last));
      }
      switch (herrno_) {
        case NO_DATA:
          got_nodata = true;
          break;
        case HOST_NOT_FOUND:
          break;
        case TRY_AGAIN:
          if (rcode_in_answer_ == ns_r_servfail) {
            got_servfail = true;
            break;
          }
          done = true;
          break;
        default:
          done = true;
          break;
      }
      if ((options & RES_DNSRCH) == 0) done = true;
    }
  }

  if ((dots != 0 || !searched || (options & RES_NOTLDQUERY) == 0) &&
      !(tried_as_is || root_on_list)) {
    DnsResult r = run_querydomain(name, nullptr, klass, type, capacity);
    if (r.error >= 0) error = r.error;
    if (found(r)) return finish(std::move(r));
    last = std::move(r);
  }

  if (saved_herrno != -1) {
    herrno_ = saved_herrno;
  } else if (got_nodata) {
    herrno_ = NO_DATA;
  } else if (got_servfail) {
    herrno_ = TRY_AGAIN;
  }
  last.length = -1;
  last.answer2.clear();
  last.length2 = 0;
  return finish(std::move(last));
}

DnsResult DnsClient::publish(DnsResult result) {
  result.herrno = herrno_ >= 0 ? herrno_ : 0;
  if (herrno_ >= 0) {
    h_errno = herrno_;
    if (herrno_state_ != nullptr) herrno_state_->res_h_errno = herrno_;
  }
  return result;
}

DnsResult DnsClient::send(const unsigned char* message, int length, int capacity) {
  herrno_ = -1;
  return publish(run_send(message, length, capacity));
}

DnsResult DnsClient::query(const char* name, int klass, int type, int capacity) {
  herrno_ = -1;
  return publish(run_query(name, klass, type, capacity));
}

DnsResult DnsClient::querydomain(const char* name, const char* domain, int klass, int type,
                                 int capacity) {
  herrno_ = -1;
  return publish(run_querydomain(name, domain, klass, type, capacity));
}

DnsResult DnsClient::search(const char* name, int klass, int type, int capacity) {
  herrno_ = -1;
  return publish(run_search(name, klass, type, capacity));
}

}  // namespace greenhub::detail
