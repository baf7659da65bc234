#include "dragonfly/piece/piece_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "dragonfly/common/net.h"
#include "piece/connection.h"
#include "piece/stop_signal.h"
#include "piece/token_bucket.h"

namespace df::piece {
namespace {

constexpr int kSocketBufferBytes = 4 << 20;
// Threads answering kBusy at once; connections beyond that are closed without an answer.
constexpr int kMaxBusyThreads = 16;
constexpr int kReapIntervalMs = 1000;

// sendfile(2) has no MSG_NOSIGNAL: keep a peer's reset from killing the process. A SIGPIPE
// raised by a syscall is directed at the calling thread, so blocking it there is enough.
void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void SetSocketOptions(int fd, int io_timeout_ms) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  net::SetBufferSizes(fd, kSocketBufferBytes);
  net::SetTimeouts(fd, io_timeout_ms);
}

class Server final : public PieceServer {
 public:
  Server(PieceServerOptions options, net::Listener listener, net::Fd wake)
      : options_(std::move(options)),
        listener_(std::move(listener)),
        wake_(std::move(wake)),
        port_(listener_.port()) {
    if (options_.rate_limit_bytes_per_sec > 0) {
      bucket_ = std::make_unique<TokenBucket>(options_.rate_limit_bytes_per_sec);
    }
    ctx_.options = &options_;
    ctx_.bucket = bucket_.get();
    ctx_.stop = &stop_;
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~Server() override { Stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const override { return port_; }
  int active_connections() const override { return active_.load(); }

  void Stop() override {
    std::call_once(stop_once_, [this] { DoStop(); });
  }

 private:
  struct Conn {
    int fd = -1;  // guarded by mu_; -1 once the connection thread closed it
    bool done = false;
    std::thread thread;
  };

  void DoStop() {
    stop_.Stop();
    uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
    if (accept_thread_.joinable()) {
      accept_thread_.join();
    }
    std::list<std::shared_ptr<Conn>> conns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : conns_) {
        if (c->fd >= 0) {
          ::shutdown(c->fd, SHUT_RDWR);
        }
      }
      conns.swap(conns_);
    }
    for (auto& c : conns) {
      c->thread.join();
    }
    listener_.Close();
  }

  void AcceptLoop() {
    while (!stop_.stopped()) {
      StatusOr<net::Fd> conn = listener_.Accept(kReapIntervalMs, wake_.get());
      Reap();
      if (!conn.ok()) {
        stop_.WaitFor(std::chrono::milliseconds(100));  // e.g. EMFILE: do not spin
        continue;
      }
      if (!conn->valid()) {
        continue;
      }
      SetSocketOptions(conn->get(), options_.io_timeout_ms);
      if (active_.load() < options_.max_connections) {
        ++active_;
        Spawn(std::move(conn).value(), false);
      } else if (busy_.load() < kMaxBusyThreads) {
        ++busy_;
        Spawn(std::move(conn).value(), true);
      }
    }
  }

  void Spawn(net::Fd fd, bool busy) {
    auto conn = std::make_shared<Conn>();
    conn->fd = fd.release();
    std::lock_guard<std::mutex> lock(mu_);
    conns_.push_back(conn);
    conn->thread = std::thread([this, conn, busy] {
      BlockSigpipe();
      if (busy) {
        RejectBusy(conn->fd, options_.io_timeout_ms);
      } else {
        ServeConnection(conn->fd, ctx_);
      }
      std::lock_guard<std::mutex> guard(mu_);
      ::close(conn->fd);
      conn->fd = -1;
      conn->done = true;
      --(busy ? busy_ : active_);
    });
  }

  // Joins the threads of finished connections.
  void Reap() {
    std::vector<std::shared_ptr<Conn>> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = conns_.begin(); it != conns_.end();) {
        if ((*it)->done) {
          finished.push_back(std::move(*it));
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : finished) {
      c->thread.join();
    }
  }

  const PieceServerOptions options_;
  net::Listener listener_;
  net::Fd wake_;  // eventfd: wakes the accept loop on Stop()
  const uint16_t port_;
  std::unique_ptr<TokenBucket> bucket_;
  StopSignal stop_;
  ServeContext ctx_;
  std::atomic<int> active_{0};
  std::atomic<int> busy_{0};
  std::mutex mu_;
  std::list<std::shared_ptr<Conn>> conns_;  // guarded by mu_
  std::thread accept_thread_;
  std::once_flag stop_once_;
};

}  // namespace

StatusOr<std::unique_ptr<PieceServer>> StartPieceServer(PieceServerOptions options) {
  if (options.max_connections < 0) {
    return InvalidArgument("max_connections must be >= 0");
  }
  DF_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Open(options.address, options.port));
  listener.SetBufferSizes(kSocketBufferBytes);  // inherited by accepted sockets
  net::Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return ErrnoError("eventfd", errno);
  }
  return std::unique_ptr<PieceServer>(
      new Server(std::move(options), std::move(listener), std::move(wake)));
}

}  // namespace df::piece
