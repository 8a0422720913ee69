#include "interfaces.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace greenhub::detail {

namespace {

constexpr size_t kReceiveBuffer = 32 * 1024;

// A bound NETLINK_ROUTE socket, closed on scope exit; raw system calls so
// that no interposer sees it.
class NetlinkSocket {
 public:
  NetlinkSocket() {
    fd_ = static_cast<int>(syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (fd_ < 0) return;
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    socklen_t length = sizeof address;
    if (syscall(SYS_bind, fd_, &address, sizeof address) != 0 ||
        syscall(SYS_getsockname, fd_, &address, &length) != 0) {
      close_fd();
      return;
    }
    pid_ = address.nl_pid;
  }
  ~NetlinkSocket() { close_fd(); }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Sends a dump request; then each() is called for every message of the
  // reply until NLMSG_DONE, and may return false to stop early.
  template <class Each>
  bool dump(uint16_t type, Each&& each) {
    struct {
      nlmsghdr header;
      rtgenmsg message;
      char pad[3];
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = type;
    request.header.nlmsg_flags = NLM_F_ROOT | NLM_F_MATCH | NLM_F_REQUEST;
    request.header.nlmsg_seq = static_cast<uint32_t>(time(nullptr));
    request.message.rtgen_family = AF_UNSPEC;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    long sent;
    do {
      sent = syscall(SYS_sendto, fd_, &request, sizeof request, 0, &kernel, sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return false;

    std::vector<char> buffer(kReceiveBuffer);
    while (true) {
      sockaddr_nl from{};
      iovec iov{buffer.data(), buffer.size()};
      msghdr message{};
      message.msg_name = &from;
      message.msg_namelen = sizeof from;
      message.msg_iov = &iov;
      message.msg_iovlen = 1;
      long received;
      do {
        received = syscall(SYS_recvmsg, fd_, &message, 0);
      } while (received < 0 && errno == EINTR);
      if (received < 0 || (message.msg_flags & MSG_TRUNC) != 0) return false;
      size_t length = static_cast<size_t>(received);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(h, length);
           h = NLMSG_NEXT(h, length)) {
        if (from.nl_pid != 0 || h->nlmsg_pid != pid_ || h->nlmsg_seq != request.header.nlmsg_seq) {
          continue;
        }
        if (h->nlmsg_type == NLMSG_DONE) return true;
        if (h->nlmsg_type == NLMSG_ERROR) return false;
        if (!each(h)) return true;
      }
    }
  }

 private:
  void close_fd() {
    if (fd_ >= 0) syscall(SYS_close, fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  uint32_t pid_ = 0;
};

}  // namespace

InterfaceInfo query_interfaces() {
  InterfaceInfo info;
  NetlinkSocket socket;
  if (!socket.ok()) return info;  // both families assumed present
  bool seen_ipv4 = false;
  bool seen_ipv6 = false;
  std::vector<InterfaceAddress> addresses;
  bool ok = socket.dump(RTM_GETADDR, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return true;
    auto* ifam = static_cast<ifaddrmsg*>(NLMSG_DATA(h));
    if (ifam->ifa_family != AF_INET && ifam->ifa_family != AF_INET6) return true;
    auto* rta = IFA_RTA(ifam);
    size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifam));
    const void* local = nullptr;
    const void* address = nullptr;
    for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
      if (rta->rta_type == IFA_LOCAL) local = RTA_DATA(rta);
      if (rta->rta_type == IFA_ADDRESS) {
        address = RTA_DATA(rta);
        break;
      }
    }
    if (address == nullptr) address = local;
    if (address != nullptr) {
      if (ifam->ifa_family == AF_INET) {
        uint32_t a;
        std::memcpy(&a, address, 4);
        if (a != htonl(INADDR_LOOPBACK)) seen_ipv4 = true;
      } else if (!IN6_IS_ADDR_LOOPBACK(static_cast<const in6_addr*>(address))) {
        seen_ipv6 = true;
      }
    }
    InterfaceAddress entry{};
    entry.flags = static_cast<uint8_t>(
        ((ifam->ifa_flags & (IFA_F_DEPRECATED | IFA_F_OPTIMISTIC)) != 0 ? kIn6aiDeprecated : 0) |
        ((ifam->ifa_flags & IFA_F_HOMEADDRESS) != 0 ? kIn6aiHomeAddress : 0));
    entry.prefixlen = ifam->ifa_prefixlen;
    entry.index = ifam->ifa_index;
    if (address != nullptr) {
      if (ifam->ifa_family == AF_INET) {
        entry.addr[2] = htonl(0xffff);
        std::memcpy(&entry.addr[3], address, 4);
      } else {
        std::memcpy(entry.addr, address, 16);
      }
    }
    addresses.push_back(entry);
    return true;
  });
  if (!ok) return info;
  info.seen_ipv4 = seen_ipv4;
  info.seen_ipv6 = seen_ipv6;
  if (seen_ipv6) {
    info.addresses = std::move(addresses);
    std::stable_sort(info.addresses.begin(), info.addresses.end(),
                     [](const InterfaceAddress& a, const InterfaceAddress& b) {
                       return std::memcmp(a.addr, b.addr, sizeof a.addr) < 0;
                     });
  }
  return info;
}

void check_native(uint32_t a1_index, int* a1_native, uint32_t a2_index, int* a2_native) {
  NetlinkSocket socket;
  if (!socket.ok()) return;
  socket.dump(RTM_GETLINK, [&](nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return true;
    auto* ifim = static_cast<ifinfomsg*>(NLMSG_DATA(h));
    int native = ifim->ifi_type != ARPHRD_TUNNEL6 && ifim->ifi_type != ARPHRD_TUNNEL &&
                 ifim->ifi_type != ARPHRD_SIT;
    if (a1_index == static_cast<uint32_t>(ifim->ifi_index)) {
      *a1_native = native;
      a1_index = 0xffffffffu;
    }
    if (a2_index == static_cast<uint32_t>(ifim->ifi_index)) {
      *a2_native = native;
      a2_index = 0xffffffffu;
    }
    return !(a1_index == 0xffffffffu && a2_index == 0xffffffffu);
  });
}

}  // namespace greenhub::detail
