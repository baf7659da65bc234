// A small HTTP/1.1 server for operational endpoints: GET /metrics (Prometheus text format from a
// prometheus::Registry) and GET /healthy. Each connection is served on a thread of its own
// (at most 64; then 503), with a 5 s deadline for the whole request, so no client can stall
// another. Binds to the configured address (loopback by default).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dragonfly/common/status.h"

namespace prometheus {
class Registry;
}

namespace df {

class HttpStatusServer {
 public:
  virtual ~HttpStatusServer() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

// `before_scrape`, when set, runs before each /metrics answer is collected (gauges read from
// their owner at scrape time: open connections, storage used).
StatusOr<std::unique_ptr<HttpStatusServer>> StartHttpStatusServer(
    const std::string& address, uint16_t port, std::shared_ptr<prometheus::Registry> registry,
    std::function<void()> before_scrape = nullptr);

// Registers dragonfly_<component>_version{version, git_commit} = 1, the series a dashboard
// groups hosts by and an alert counts components with.
void RegisterVersionMetric(prometheus::Registry& registry, const std::string& component);

}  // namespace df
