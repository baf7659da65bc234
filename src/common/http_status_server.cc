#include "dragonfly/common/http_status_server.h"

#include <poll.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <chrono>

#include "dragonfly/common/acceptor.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/version.h"

namespace df {
namespace {

constexpr uint32_t kMaxConnections = 64;
constexpr int kRequestDeadlineMs = 5000;  // the whole request, however slowly it trickles

// Each connection on a thread of its own (ConnectionAcceptor), so a slow or idle client never
// delays a probe or a scrape; beyond kMaxConnections a client is answered 503 at once.
class Server : public HttpStatusServer {
 public:
  Server(net::Listener listener, std::shared_ptr<prometheus::Registry> registry,
         std::function<void()> before_scrape)
      : port_(listener.port()),
        registry_(std::move(registry)),
        before_scrape_(std::move(before_scrape)) {
    net::ConnectionAcceptor::Options o;
    o.name = "status server";
    o.max_connections = kMaxConnections;
    o.serve = [this](int fd, net::ConnectionAcceptor*) { Serve(fd); };
    o.busy = [](int fd) {
      static constexpr char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n"
          "\r\nbusy\n";
      (void)::send(fd, kBusy, sizeof(kBusy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    };
    acceptor_ = std::make_unique<net::ConnectionAcceptor>(std::move(listener), std::move(o));
  }
  ~Server() override { Stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const override { return port_; }
  void Stop() override { acceptor_->Stop(); }

 private:
  void Serve(int fd) {
    net::SetTimeouts(fd, kRequestDeadlineMs);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestDeadlineMs);
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return;
      }
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        return;
      }
      req.append(buf, static_cast<size_t>(n));
    }
    std::string line = req.substr(0, req.find("\r\n"));
    std::string status = "200 OK";
    std::string type = "text/plain; charset=utf-8";
    std::string body;
    if (line.rfind("GET /metrics ", 0) == 0 || line.rfind("GET /metrics?", 0) == 0) {
      if (before_scrape_) {
        before_scrape_();
      }
      body = prometheus::TextSerializer().Serialize(registry_->Collect());
      type = "text/plain; version=0.0.4";
    } else if (line.rfind("GET /healthy ", 0) == 0) {
      body = "OK";
    } else {
      status = "404 Not Found";
      body = "not found\n";
    }
    std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                       "\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
    (void)net::WriteAll(fd, resp.data(), resp.size());
  }

  uint16_t port_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<void()> before_scrape_;
  std::unique_ptr<net::ConnectionAcceptor> acceptor_;  // last: its threads use the above
};

}  // namespace

StatusOr<std::unique_ptr<HttpStatusServer>> StartHttpStatusServer(
    const std::string& address, uint16_t port, std::shared_ptr<prometheus::Registry> registry,
    std::function<void()> before_scrape) {
  DF_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Open(address, port, 64));
  return std::unique_ptr<HttpStatusServer>(
      std::make_unique<Server>(std::move(listener), std::move(registry), std::move(before_scrape)));
}

void RegisterVersionMetric(prometheus::Registry& registry, const std::string& component) {
  prometheus::BuildGauge()
      .Name("dragonfly_" + component + "_version")
      .Help("1, labelled with this build's version and git commit")
      .Register(registry)
      .Add({{"version", kVersion}, {"git_commit", kGitCommit}})
      .Set(1);
}

}  // namespace df
