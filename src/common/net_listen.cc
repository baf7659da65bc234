// Listening sockets: one per address of the configured host, all on one port.
#include <fcntl.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/net_internal.h"
#include "dragonfly/common/net.h"

namespace df::net {
namespace {

using internal::SockAddr;

// An address to bind; "[::]" is dual-stack (IPv6 and IPv4-mapped).
struct Bindable : SockAddr {
  bool dual_stack = false;
};

Bindable Any(int family) {
  Bindable b;
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&b.addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_any;
    b.len = sizeof(sockaddr_in6);
    b.dual_stack = true;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&b.addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_ANY);
    b.len = sizeof(sockaddr_in);
  }
  return b;
}

StatusOr<std::vector<Bindable>> Addresses(const std::string& host) {
  if (host == "0.0.0.0") {
    return std::vector<Bindable>{Any(AF_INET)};
  }
  if (IsWildcard(host)) {
    // Dual-stack when the kernel has IPv6, IPv4 only otherwise.
    Fd probe(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return std::vector<Bindable>{Any(probe.valid() ? AF_INET6 : AF_INET)};
  }
  StatusOr<std::vector<SockAddr>> resolved = internal::ResolveAll(host, 0, /*passive=*/true);
  if (!resolved.ok()) {
    return InvalidArgument("cannot listen on '" + host + "': " + resolved.status().message());
  }
  std::vector<Bindable> out;
  for (const SockAddr& a : *resolved) {
    Bindable b;
    static_cast<SockAddr&>(b) = a;
    out.push_back(b);
  }
  return out;
}

StatusOr<Fd> BindOne(const Bindable& b, int backlog) {
  Fd fd(::socket(b.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    return ErrnoError("socket", errno);
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (b.addr.ss_family == AF_INET6) {
    int v6only = b.dual_stack ? 0 : 1;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&b.addr), b.len) != 0) {
    return ErrnoError("bind " + b.text(), errno);
  }
  if (::listen(fd.get(), backlog) != 0) {
    return ErrnoError("listen " + b.text(), errno);
  }
  return fd;
}

}  // namespace

StatusOr<Listener> Listener::Open(const std::string& host_in, uint16_t port, int backlog) {
  std::string host = host_in;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  DF_ASSIGN_OR_RETURN(std::vector<Bindable> addrs, Addresses(host));
  // With port 0 and several addresses, the port the first one gets may be taken on another:
  // start over a few times.
  for (int round = 0; round < 8; ++round) {
    Listener l;
    std::string errors;
    bool port_clash = false;
    l.port_ = port;
    for (Bindable b : addrs) {
      b.set_port(l.port_);
      StatusOr<Fd> fd = BindOne(b, backlog);
      if (!fd.ok()) {
        port_clash = port_clash || (port == 0 && l.port_ != 0 &&
                                    fd.status().message().find("in use") != std::string::npos);
        errors += (errors.empty() ? "" : "; ") + fd.status().message();
        continue;
      }
      if (l.port_ == 0) {
        DF_ASSIGN_OR_RETURN(l.port_, LocalPort(fd->get()));
        b.set_port(l.port_);
      }
      l.addresses_.push_back(b.text());
      l.loopback_only_ = l.loopback_only_ && b.loopback();
      l.fds_.push_back(std::move(fd).value());
    }
    if (port_clash) {
      continue;
    }
    if (l.fds_.empty()) {
      return Unavailable("cannot listen on " + JoinHostPort(host, port) + ": " + errors);
    }
    if (!errors.empty()) {
      spdlog::warn("listening on {} but not on every address of '{}': {}",
                   fmt::join(l.addresses_, ", "), host, errors);
    }
    return l;
  }
  return Unavailable("cannot listen on " + JoinHostPort(host, port) +
                     ": no port free on every address");
}

void Listener::SetBufferSizes(int bytes) {
  for (const Fd& fd : fds_) {
    net::SetBufferSizes(fd.get(), bytes);
  }
}

StatusOr<Fd> Listener::Accept(int timeout_ms, int wake_fd) {
  std::vector<pollfd> p;
  p.reserve(fds_.size() + 1);
  for (const Fd& fd : fds_) {
    p.push_back({fd.get(), POLLIN, 0});
  }
  if (wake_fd >= 0) {
    p.push_back({wake_fd, POLLIN, 0});
  }
  int rc = ::poll(p.data(), p.size(), timeout_ms);
  if (rc <= 0 || (wake_fd >= 0 && p.back().revents != 0)) {
    return Fd();
  }
  for (size_t k = 0; k < fds_.size(); ++k) {
    size_t i = (next_ + k) % fds_.size();
    if (p[i].revents == 0) {
      continue;
    }
    next_ = i + 1;  // fairness between the sockets
    int fd = ::accept4(fds_[i].get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      return Fd(fd);
    }
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      return ErrnoError("accept", errno);
    }
  }
  return Fd();  // aborted before accept, or taken by another thread
}

}  // namespace df::net
