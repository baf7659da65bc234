#include "dragonfly/common/acceptor.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <system_error>

namespace df::net {

ConnectionAcceptor::ConnectionAcceptor(Listener listener, Options options)
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
    ExpireDeadlines();
    StatusOr<Fd> conn = listener_.Accept(200);
    if (!conn.ok()) {
      spdlog::warn("{}: {}", options_.name, conn.status().ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // e.g. EMFILE: back off
      continue;
    }
    if (!conn->valid()) {
      continue;
    }
    int fd = conn->release();
    {
      std::lock_guard lock(mu_);
      if (fds_.size() >= options_.max_connections ||
          !FdBudget::Acquire(options_.fds_per_connection)) {
        if (options_.busy) {
          options_.busy(fd);
        }
        ::close(fd);
        continue;
      }
      fds_.insert(fd);
    }
    try {
      std::thread([this, fd] {
        try {
          options_.serve(fd, this);
        } catch (const std::exception& e) {  // e.g. no fds left for the connection's reactor
          spdlog::warn("{}: connection dropped: {}", options_.name, e.what());
        }
        LingeringShutdown(fd, 4u << 20, 2000);
        Release(fd);
      }).detach();
    } catch (const std::system_error& e) {
      // No thread for it (the process is at its thread limit): refuse it, never abort.
      spdlog::warn("{}: refusing a connection: {}", options_.name, e.what());
      if (options_.busy) {
        options_.busy(fd);
      }
      Release(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void ConnectionAcceptor::Release(int fd) {
  std::lock_guard lock(mu_);
  fds_.erase(fd);
  deadlines_.erase(fd);
  ::close(fd);
  FdBudget::Release(options_.fds_per_connection);
  idle_.notify_all();
}

void ConnectionAcceptor::AwaitRequest(int fd) {
  if (options_.request_timeout.count() <= 0) {
    return;
  }
  std::lock_guard lock(mu_);
  if (fds_.count(fd) > 0) {
    deadlines_[fd] = std::chrono::steady_clock::now() + options_.request_timeout;
  }
}

void ConnectionAcceptor::RequestStarted(int fd) {
  std::lock_guard lock(mu_);
  deadlines_.erase(fd);
}

void ConnectionAcceptor::ExpireDeadlines() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  for (auto it = deadlines_.begin(); it != deadlines_.end();) {
    if (it->second <= now) {
      ::shutdown(it->first, SHUT_RDWR);  // the blocked read returns; serve() ends
      it = deadlines_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace df::net
