// Address parsing and formatting: "host:port", IPv6 brackets, literal families, and the
// addresses a host announces.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

#include "common/net_internal.h"
#include "dragonfly/common/net.h"

namespace df::net {
namespace {

std::string_view StripBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// "fe80::1%eth0" -> "fe80::1": the zone of a link-local address is not part of the literal.
std::string_view StripZone(std::string_view host) {
  return host.substr(0, std::min(host.size(), host.find('%')));
}

bool ParseV4(std::string_view s, in_addr* out) {
  std::string z(s);
  return ::inet_pton(AF_INET, z.c_str(), out) == 1;
}

bool ParseV6(std::string_view s, in6_addr* out) {
  std::string z(StripZone(s));
  return !z.empty() && ::inet_pton(AF_INET6, z.c_str(), out) == 1;
}

bool IsDnsName(std::string_view h) {
  if (h.empty() || h.size() > 253) {
    return false;
  }
  size_t label = 0;
  bool all_digits = true;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok || ++label > 63) {
      return false;
    }
    all_digits = all_digits && c >= '0' && c <= '9';
  }
  // "1.2.3.999" is a mistyped IPv4 address, not a name.
  return !all_digits;
}

std::string Ntop(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  return ::inet_ntop(family, addr, buf, sizeof(buf)) != nullptr ? std::string(buf) : "";
}

}  // namespace

StatusOr<HostPort> SplitHostPort(std::string_view address) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument("bad address '" + std::string(address) + "': " + std::string(why));
  };
  HostPort hp;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return bad("want [IPv6]:PORT");
    }
    hp.host = std::string(address.substr(1, close - 1));
    port = address.substr(close + 2);
    in6_addr a6{};
    if (!ParseV6(hp.host, &a6)) {
      return bad("'" + hp.host + "' in brackets is not an IPv6 address");
    }
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return bad("want HOST:PORT");
    }
    hp.host = std::string(address.substr(0, colon));
    port = address.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) {
      return bad("an IPv6 address needs brackets: [" + hp.host + "]:" + std::string(port));
    }
    in_addr a4{};
    if (hp.host.empty()) {
      return bad("no host (every address: 0.0.0.0:PORT for IPv4, [::]:PORT for both)");
    }
    if (!ParseV4(hp.host, &a4) && !IsDnsName(hp.host)) {
      return bad("'" + hp.host + "' is neither an IP address nor a host name");
    }
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc() || ptr != port.data() + port.size() ||
      value > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

Status CheckListenAddress(std::string_view address) {
  DF_ASSIGN_OR_RETURN(HostPort hp, SplitHostPort(address));
  if (IsIpLiteral(hp.host)) {
    return Status::Ok();
  }
  if (auto resolved = internal::ResolveAll(hp.host, 0, /*passive=*/true); !resolved.ok()) {
    return InvalidArgument("cannot listen on '" + std::string(address) +
                           "': " + resolved.status().message());
  }
  return Status::Ok();
}

std::string UrlHost(std::string_view host) {
  if (host.find(':') != std::string_view::npos && !(host.size() >= 2 && host.front() == '[')) {
    return "[" + std::string(host) + "]";
  }
  return std::string(host);
}

std::string JoinHostPort(std::string_view host, uint16_t port) {
  return UrlHost(host) + ":" + std::to_string(port);
}

Family LiteralFamily(std::string_view host) {
  host = StripBrackets(host);
  in_addr a4{};
  in6_addr a6{};
  if (host.find(':') == std::string_view::npos) {
    return ParseV4(host, &a4) ? Family::kIPv4 : Family::kAny;
  }
  return ParseV6(host, &a6) ? Family::kIPv6 : Family::kAny;
}

bool IsIpLiteral(std::string_view host) { return LiteralFamily(host) != Family::kAny; }

bool IsWildcard(std::string_view host) {
  host = StripBrackets(host);
  return host.empty() || host == "::" || host == "0.0.0.0";
}

Family PeerFamily(std::string_view peer) {
  if (peer.rfind("ipv4:", 0) == 0) {
    return Family::kIPv4;
  }
  if (peer.rfind("ipv6:", 0) == 0) {
    // "ipv6:[::ffff:10.0.0.1]:5" or, URI-escaped, "ipv6:%5B::ffff:10.0.0.1%5D:5".
    std::string_view rest = peer.substr(5);
    bool mapped = (rest.find("::ffff:") != std::string_view::npos ||
                   rest.find("::FFFF:") != std::string_view::npos) &&
                  rest.find('.') != std::string_view::npos;
    return mapped ? Family::kIPv4 : Family::kIPv6;
  }
  return Family::kAny;
}

StatusOr<std::string> CanonicalIp(std::string_view ip) {
  std::string_view bare = StripBrackets(ip);
  in_addr a4{};
  in6_addr a6{};
  if (ParseV4(bare, &a4)) {
    return Ntop(AF_INET, &a4);
  }
  if (bare.find('%') == std::string_view::npos && ParseV6(bare, &a6)) {
    return Ntop(AF_INET6, &a6);
  }
  return InvalidArgument("'" + std::string(ip) + "' is not an IP address");
}

std::vector<std::string> AdvertisedAddresses(std::string_view listen_host) {
  std::string_view bare = StripBrackets(listen_host);
  if (!IsWildcard(bare)) {
    if (StatusOr<std::string> ip = CanonicalIp(bare); ip.ok()) {
      return {*ip};
    }
    std::vector<std::string> out;
    if (auto resolved = internal::ResolveAll(std::string(bare), 0, /*passive=*/false);
        resolved.ok()) {
      for (const internal::SockAddr& a : *resolved) {
        out.push_back(a.ip());  // ResolveAll drops duplicates
      }
    }
    return out;
  }
  const bool want_v6 = bare != "0.0.0.0";
  std::vector<std::string> v4, v6, loopback;
  ifaddrs* addrs = nullptr;
  if (::getifaddrs(&addrs) == 0) {
    for (ifaddrs* a = addrs; a != nullptr; a = a->ifa_next) {
      if (a->ifa_addr == nullptr || (a->ifa_flags & IFF_UP) == 0) {
        continue;
      }
      const bool lo = (a->ifa_flags & IFF_LOOPBACK) != 0;
      if (a->ifa_addr->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
        std::string ip = Ntop(AF_INET, &in->sin_addr);
        bool link_local = ip.rfind("169.254.", 0) == 0;
        if (!ip.empty() && !link_local) {
          (lo ? loopback : v4).push_back(ip);
        }
      } else if (a->ifa_addr->sa_family == AF_INET6 && want_v6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
        if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr)) {
          continue;  // needs a zone; not reachable from other links
        }
        std::string ip = Ntop(AF_INET6, &in6->sin6_addr);
        if (!ip.empty()) {
          (lo ? loopback : v6).push_back(ip);
        }
      }
    }
    ::freeifaddrs(addrs);
  }
  std::vector<std::string> out = v4;
  out.insert(out.end(), v6.begin(), v6.end());
  if (out.empty()) {
    out = loopback;
  }
  std::vector<std::string> unique;
  for (std::string& ip : out) {
    if (std::find(unique.begin(), unique.end(), ip) == unique.end()) {
      unique.push_back(std::move(ip));
    }
  }
  return unique;
}

}  // namespace df::net

namespace df::net {

StatusOr<std::vector<std::string>> ResolveHost(const std::string& host) {
  DF_ASSIGN_OR_RETURN(auto addrs, internal::ResolveAll(host, 0, false));
  std::vector<std::string> out;
  for (const auto& a : addrs) {
    std::string ip = a.ip();
    if (std::find(out.begin(), out.end(), ip) == out.end()) {
      out.push_back(ip);
    }
  }
  return out;
}

bool InCidr(const std::string& ip_text, const std::string& cidr) {
  std::string ip = ip_text;
  if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) {
    ip = ip.substr(7);  // IPv4-mapped
  }
  size_t slash = cidr.find('/');
  std::string net = cidr.substr(0, slash);
  unsigned char a[16] = {};
  unsigned char b[16] = {};
  int family = net.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  int bytes = family == AF_INET6 ? 16 : 4;
  if (::inet_pton(family, net.c_str(), a) != 1 || ::inet_pton(family, ip.c_str(), b) != 1) {
    return false;
  }
  int bits = bytes * 8;
  if (slash != std::string::npos) {
    bits = std::atoi(cidr.c_str() + slash + 1);
    if (bits < 0 || bits > bytes * 8) {
      return false;
    }
  }
  for (int i = 0; i < bytes && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) {
      return false;
    }
  }
  return true;
}

}  // namespace df::net
