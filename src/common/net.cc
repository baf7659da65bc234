#include "dragonfly/common/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace df::net {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    Reset(o.release());
  }
  return *this;
}

Fd::~Fd() { Reset(); }

int Fd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::Reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

namespace {

StatusOr<sockaddr_storage> Resolve(const std::string& host, uint16_t port, socklen_t* len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  int rc =
      ::getaddrinfo(h.empty() ? nullptr : h.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Unavailable("resolve " + host + ": " + gai_strerror(rc));
  }
  sockaddr_storage ss{};
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return ss;
}

}  // namespace

StatusOr<Fd> Listen(const std::string& address, uint16_t port, int backlog) {
  socklen_t len = 0;
  DF_ASSIGN_OR_RETURN(sockaddr_storage ss, Resolve(address, port, &len));
  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return ErrnoError("socket", errno);
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return ErrnoError("bind " + address + ":" + std::to_string(port), errno);
  }
  if (::listen(fd.get(), backlog) != 0) {
    return ErrnoError("listen", errno);
  }
  return fd;
}

StatusOr<uint16_t> LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return ErrnoError("getsockname", errno);
  }
  if (ss.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

StatusOr<Fd> Connect(const std::string& host, uint16_t port, int timeout_ms) {
  socklen_t len = 0;
  DF_ASSIGN_OR_RETURN(sockaddr_storage ss, Resolve(host, port, &len));
  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    return ErrnoError("socket", errno);
  }
  std::string where = host + ":" + std::to_string(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      return ErrnoError("connect " + where, errno);
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc == 0) {
      return DeadlineExceeded("connect " + where + ": timed out");
    }
    int err = 0;
    socklen_t el = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &el);
    if (rc < 0 || err != 0) {
      return ErrnoError("connect " + where, rc < 0 ? errno : err);
    }
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void SetBufferSizes(int fd, int bytes) {
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

Status WriteAll(int fd, const void* data, size_t n, bool more) {
  const char* p = static_cast<const char*>(data);
  const int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, flags);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("send", errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status ReadFull(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("recv", errno);
    }
    if (r == 0) {
      return Unavailable("connection closed by peer");
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status SendFile(int fd, int file_fd, uint64_t offset, size_t n) {
  auto off = static_cast<off_t>(offset);
  while (n > 0) {
    ssize_t w = ::sendfile(fd, file_fd, &off, n);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("sendfile", errno);
    }
    if (w == 0) {
      return DataLoss("sendfile: file shorter than expected");
    }
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= addr.size()) {
    return InvalidArgument("bad address '" + addr + "': want host:port");
  }
  std::string host = addr.substr(0, colon);
  std::string port = addr.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) > 65535) {
    return InvalidArgument("bad port in address '" + addr + "'");
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, static_cast<uint16_t>(std::stoul(port)));
}

void LingeringShutdown(int fd, size_t max_bytes, int timeout_ms) {
  ::shutdown(fd, SHUT_WR);
  SetTimeouts(fd, timeout_ms);
  char sink[16384];
  for (size_t total = 0; total < max_bytes;) {
    ssize_t n = ::recv(fd, sink, sizeof(sink), 0);
    if (n <= 0) {
      break;
    }
    total += static_cast<size_t>(n);
  }
}

}  // namespace df::net
