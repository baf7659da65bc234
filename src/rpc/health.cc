#include "dragonfly/rpc/health.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace df::rpc {

namespace hv1 = grpc::health::v1;

HealthService::HealthService(Probe probe, std::set<std::string> services,
                             std::chrono::milliseconds cache)
    : probe_(std::move(probe)), services_(std::move(services)), cache_(cache) {}

void HealthService::Shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
}

hv1::HealthCheckResponse::ServingStatus HealthService::Current() {
  std::lock_guard lock(mu_);
  if (shutdown_) {
    return hv1::HealthCheckResponse::NOT_SERVING;
  }
  auto now = std::chrono::steady_clock::now();
  if (checked_ == std::chrono::steady_clock::time_point{} || now - checked_ >= cache_) {
    Status s = probe_ ? probe_() : Status::Ok();
    if (!s.ok() && (ready_ || reason_ != s.message())) {
      spdlog::warn("health: not serving: {}", s.message());
    } else if (s.ok() && !ready_ && checked_ != std::chrono::steady_clock::time_point{}) {
      spdlog::info("health: serving again");
    }
    ready_ = s.ok();
    reason_ = s.ok() ? "" : s.message();
    checked_ = now;
  }
  return ready_ ? hv1::HealthCheckResponse::SERVING : hv1::HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext*, const hv1::HealthCheckRequest* request,
                                  hv1::HealthCheckResponse* response) {
  if (!request->service().empty() && services_.count(request->service()) == 0) {
    return {grpc::StatusCode::NOT_FOUND, "unknown service " + request->service().substr(0, 128)};
  }
  response->set_status(Current());
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context,
                                  const hv1::HealthCheckRequest* request,
                                  grpc::ServerWriter<hv1::HealthCheckResponse>* writer) {
  const bool known = request->service().empty() || services_.count(request->service()) > 0;
  hv1::HealthCheckResponse response;
  bool first = true;
  auto last = hv1::HealthCheckResponse::UNKNOWN;
  while (!context->IsCancelled()) {
    auto status = known ? Current() : hv1::HealthCheckResponse::SERVICE_UNKNOWN;
    if (first || status != last) {
      response.set_status(status);
      if (!writer->Write(response)) {
        break;
      }
      first = false;
      last = status;
    }
    // (At least 50 ms: a probe cached for 0 ms must not make this loop spin.)
    std::this_thread::sleep_for(std::clamp<std::chrono::milliseconds>(
        cache_, std::chrono::milliseconds(50), std::chrono::seconds(1)));
  }
  return grpc::Status::OK;
}

}  // namespace df::rpc
