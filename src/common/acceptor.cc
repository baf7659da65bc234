#include "dragonfly/common/acceptor.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace df::net {

ConnectionAcceptor::ConnectionAcceptor(Fd listener, Options options)
    : listener_(std::move(listener)), options_(std::move(options)) {
  thread_ = std::thread([this] { AcceptLoop(); });
}

ConnectionAcceptor::~ConnectionAcceptor() { Stop(); }

void ConnectionAcceptor::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  thread_.join();
  std::unique_lock lock(mu_);
  for (int fd : fds_) {
    ::shutdown(fd, SHUT_RDWR);
  }
  if (!idle_.wait_for(lock, std::chrono::seconds(5), [&] { return fds_.empty(); })) {
    spdlog::warn("{} stopping: waiting for {} connection(s)", options_.name, fds_.size());
    idle_.wait(lock, [&] { return fds_.empty(); });
  }
}

void ConnectionAcceptor::AcceptLoop() {
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) {
        return;
      }
    }
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) {
      continue;
    }
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    {
      std::lock_guard lock(mu_);
      if (fds_.size() >= options_.max_connections) {
        if (options_.busy) {
          options_.busy(fd);
        }
        ::close(fd);
        continue;
      }
      fds_.insert(fd);
    }
    std::thread([this, fd] {
      options_.serve(fd);
      LingeringShutdown(fd, 4u << 20, 2000);
      std::lock_guard lock(mu_);
      fds_.erase(fd);
      ::close(fd);
      idle_.notify_all();
    }).detach();
  }
}

}  // namespace df::net
