#include "common/net_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace df::net::internal {

void SockAddr::set_port(uint16_t port) {
  if (addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  }
}

bool SockAddr::loopback() const {
  if (addr.ss_family == AF_INET6) {
    return IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr);
  }
  return (ntohl(reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr.s_addr) >> 24) == 127;
}

std::string SockAddr::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, buf,
                sizeof(buf));
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, buf, sizeof(buf));
  }
  return buf;
}

uint16_t SockAddr::port() const {
  return ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port
                                          : reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
}

std::string SockAddr::text() const { return JoinHostPort(ip(), port()); }

StatusOr<std::vector<SockAddr>> ResolveAll(const std::string& host_in, uint16_t port,
                                           bool passive) {
  std::string host = host_in;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = (passive ? AI_PASSIVE : 0) | (IsIpLiteral(host) ? AI_NUMERICHOST : 0);
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Unavailable("resolve " + host_in + ": " + ::gai_strerror(rc));
  }
  std::vector<SockAddr> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        a->ai_addrlen > sizeof(sockaddr_storage)) {
      continue;
    }
    SockAddr s;
    std::memcpy(&s.addr, a->ai_addr, a->ai_addrlen);
    s.len = a->ai_addrlen;
    bool seen = std::any_of(out.begin(), out.end(), [&](const SockAddr& o) {
      return o.len == s.len && std::memcmp(&o.addr, &s.addr, s.len) == 0;
    });
    if (!seen) {
      out.push_back(s);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

}  // namespace df::net::internal
