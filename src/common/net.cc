#include "dragonfly/common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace df::net {

uint64_t RaiseFdLimit() {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0) {
    return 0;
  }
  if (l.rlim_cur < l.rlim_max) {
    rlimit raised = l;
    raised.rlim_cur = l.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      l = raised;
    }
  }
  return static_cast<uint64_t>(l.rlim_cur);
}

namespace {
std::atomic<uint64_t> g_fd_budget_used{0};
}  // namespace

uint64_t FdBudget::capacity() {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0 || l.rlim_cur == RLIM_INFINITY) {
    return 1u << 20;
  }
  const uint64_t limit = l.rlim_cur;
  const uint64_t reserve = std::max<uint64_t>(256, limit / 4);
  return limit > reserve + 16 ? limit - reserve : 16;
}

bool FdBudget::Acquire(uint64_t n) {
  if (g_fd_budget_used.fetch_add(n) + n > capacity()) {
    g_fd_budget_used.fetch_sub(n);
    return false;
  }
  return true;
}

void FdBudget::Release(uint64_t n) { g_fd_budget_used.fetch_sub(n); }

uint64_t FdBudget::in_use() { return g_fd_budget_used.load(); }

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
