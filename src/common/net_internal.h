// Socket addresses shared by net_connect.cc and net_listen.cc (not part of the public API).
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "dragonfly/common/net.h"

namespace df::net::internal {

struct SockAddr {
  sockaddr_storage addr{};
  socklen_t len = 0;

  Family family() const { return addr.ss_family == AF_INET6 ? Family::kIPv6 : Family::kIPv4; }
  void set_port(uint16_t port);
  bool loopback() const;
  std::string ip() const;  // "::1", "127.0.0.1"
  uint16_t port() const;
  std::string text() const;  // "[::1]:80", "127.0.0.1:80"
};

// Every IPv4/IPv6 address of `host` (an IP literal, brackets allowed, or a name), in the
// resolver's order (RFC 6724), without duplicates. `passive`: addresses to bind.
StatusOr<std::vector<SockAddr>> ResolveAll(const std::string& host, uint16_t port, bool passive);

}  // namespace df::net::internal
