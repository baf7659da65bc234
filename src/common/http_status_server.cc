#include "dragonfly/common/http_status_server.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "dragonfly/common/net.h"

namespace df {
namespace {

class Server : public HttpStatusServer {
 public:
  Server(net::Listener listener, std::shared_ptr<prometheus::Registry> registry)
      : listener_(std::move(listener)), port_(listener_.port()), registry_(std::move(registry)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Server() override { Stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const override { return port_; }
  void Stop() override {
    if (!stopping_.exchange(true) && thread_.joinable()) {
      thread_.join();
    }
  }

 private:
  void Loop() {
    while (!stopping_) {
      StatusOr<net::Fd> conn = listener_.Accept(200);
      if (!conn.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // e.g. EMFILE: back off
        continue;
      }
      if (!conn->valid()) {
        continue;
      }
      net::SetTimeouts(conn->get(), 2000);
      Serve(conn->get());
    }
  }

  void Serve(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384) {
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

  net::Listener listener_;
  uint16_t port_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

StatusOr<std::unique_ptr<HttpStatusServer>> StartHttpStatusServer(
    const std::string& address, uint16_t port, std::shared_ptr<prometheus::Registry> registry) {
  DF_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Open(address, port, 64));
  return std::unique_ptr<HttpStatusServer>(
      std::make_unique<Server>(std::move(listener), std::move(registry)));
}

}  // namespace df
