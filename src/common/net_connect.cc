// Outgoing TCP connections over every address of a host (RFC 8305, Happy Eyeballs v2 without
// the asynchronous resolution: getaddrinfo answers for both families at once).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/net_internal.h"
#include "dragonfly/common/net.h"

namespace df::net {
namespace {

using Clock = std::chrono::steady_clock;
using internal::SockAddr;

// RFC 8305 §4: alternate families, starting with the preferred one (else the first address's).
std::vector<SockAddr> Interleave(std::vector<SockAddr> in, Family prefer) {
  if (in.empty()) {
    return in;
  }
  Family first = in.front().family();
  if (prefer != Family::kAny &&
      std::any_of(in.begin(), in.end(), [&](const SockAddr& e) { return e.family() == prefer; })) {
    first = prefer;
  }
  std::vector<SockAddr> a, b, out;
  for (SockAddr& e : in) {
    (e.family() == first ? a : b).push_back(std::move(e));
  }
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) {
      out.push_back(std::move(a[i]));
    }
    if (i < b.size()) {
      out.push_back(std::move(b[i]));
    }
  }
  return out;
}

struct Attempt {
  Fd fd;
  size_t index;
};

Fd Finish(Fd fd) {
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

StatusOr<Fd> ConnectEndpoints(const std::vector<SockAddr>& eps, const std::string& what,
                              const ConnectOptions& o) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(std::max(o.timeout_ms, 1));
  const auto delay = std::chrono::milliseconds(std::max(o.attempt_delay_ms, 10));
  std::vector<std::string> outcome(eps.size());  // what happened to each address
  std::vector<Attempt> live;
  size_t next = 0;
  auto next_start = start;
  bool timed_out = false;
  while (true) {
    auto now = Clock::now();
    if (next < eps.size() && (live.empty() || now >= next_start)) {
      const SockAddr& e = eps[next];
      size_t index = next++;
      Fd fd(::socket(e.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
      if (!fd.valid()) {
        outcome[index] = std::strerror(errno);
        continue;
      }
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0) {
        return Finish(std::move(fd));
      }
      if (errno != EINPROGRESS) {
        outcome[index] = std::strerror(errno);
        continue;  // failed at once: the next address starts now
      }
      live.push_back({std::move(fd), index});
      next_start = now + delay;
      continue;
    }
    if (live.empty()) {
      break;  // every address failed
    }
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    auto until = next < eps.size() ? std::min(deadline, next_start) : deadline;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1;
    std::vector<pollfd> pfds;
    for (const Attempt& a : live) {
      pfds.push_back({a.fd.get(), POLLOUT, 0});
    }
    int rc = ::poll(pfds.data(), pfds.size(), static_cast<int>(wait));
    if (rc < 0 && errno != EINTR) {
      return ErrnoError("connect " + what + ": poll", errno);
    }
    for (size_t i = pfds.size(); i-- > 0;) {
      if (pfds[i].revents == 0) {
        continue;
      }
      int err = 0;
      socklen_t el = sizeof(err);
      ::getsockopt(pfds[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
      if (err == 0) {
        return Finish(std::move(live[i].fd));  // the others close as `live` goes
      }
      outcome[live[i].index] = std::strerror(err);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      next_start = Clock::now();  // a failure starts the next attempt at once
    }
  }
  std::string detail;
  for (size_t i = 0; i < eps.size(); ++i) {
    std::string what_happened = outcome[i];
    if (what_happened.empty()) {
      what_happened = i < next ? "timed out" : "not tried";
    }
    detail += (detail.empty() ? "" : "; ") + eps[i].text() + ": " + what_happened;
  }
  if (timed_out) {
    return DeadlineExceeded("connect " + what + ": timed out after " +
                            std::to_string(o.timeout_ms) + " ms (" + detail + ")");
  }
  return Unavailable("connect " + what + ": " + detail);
}

}  // namespace

StatusOr<Fd> ConnectAny(const std::vector<std::string>& hosts, uint16_t port,
                        const ConnectOptions& options) {
  if (hosts.empty()) {
    return InvalidArgument("connect: no address");
  }
  std::vector<SockAddr> eps;
  std::string errors;
  for (const std::string& h : hosts) {
    StatusOr<std::vector<SockAddr>> addrs = internal::ResolveAll(h, port, /*passive=*/false);
    if (!addrs.ok()) {
      errors += (errors.empty() ? "" : "; ") + addrs.status().message();
      continue;
    }
    for (SockAddr& a : *addrs) {
      bool seen = std::any_of(eps.begin(), eps.end(),
                              [&](const SockAddr& o) { return o.text() == a.text(); });
      if (!seen) {
        eps.push_back(a);
      }
    }
  }
  std::string what = JoinHostPort(hosts.front(), port);
  if (hosts.size() > 1) {
    what = "{" + what;
    for (size_t i = 1; i < hosts.size(); ++i) {
      what += ", " + JoinHostPort(hosts[i], port);
    }
    what += "}";
  }
  if (eps.empty()) {
    return Unavailable("connect " + what + ": " + errors);
  }
  return ConnectEndpoints(Interleave(std::move(eps), options.prefer), what, options);
}

StatusOr<Fd> Connect(const std::string& host, uint16_t port, const ConnectOptions& options) {
  return ConnectAny({host}, port, options);
}

StatusOr<Fd> Connect(const std::string& host, uint16_t port, int timeout_ms) {
  ConnectOptions o;
  o.timeout_ms = timeout_ms;
  return Connect(host, port, o);
}

}  // namespace df::net
