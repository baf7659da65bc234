// grpc.health.v1.Health on a component's gRPC ports: SERVING while the component's readiness
// probe says so (storage writable, database reachable, ...), NOT_SERVING with the reason logged
// otherwise. Kubernetes' gRPC probes and grpc_health_probe speak it.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "dragonfly/common/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace df::rpc {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // OK when ready; otherwise why not. Called at most once per `cache` period, from any thread.
  using Probe = std::function<Status()>;

  // `services`: the names a caller may ask about besides "" (the whole server), e.g.
  // "dragonfly.api.scheduler.Scheduler"; any other name is NOT_FOUND (Check) or SERVICE_UNKNOWN
  // (Watch), as the protocol says.
  HealthService(Probe probe, std::set<std::string> services,
                std::chrono::milliseconds cache = std::chrono::seconds(1));

  // Marks the server NOT_SERVING from now on (it is shutting down).
  void Shutdown();

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  // Sends the status, then each change (checked every `cache` period) until the caller leaves.
  grpc::Status Watch(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  grpc::health::v1::HealthCheckResponse::ServingStatus Current();

  const Probe probe_;
  const std::set<std::string> services_;
  const std::chrono::milliseconds cache_;
  std::mutex mu_;
  bool shutdown_ = false;
  std::chrono::steady_clock::time_point checked_{};
  bool ready_ = false;
  std::string reason_;
};

}  // namespace df::rpc
