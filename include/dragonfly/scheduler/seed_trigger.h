// Asks a seed host to start downloading a task (DfdaemonUpload/TriggerSeed). Implementations are
// asynchronous: Trigger() returns at once and `done` runs later on any thread (or inline).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "api/scheduler.pb.h"
#include "dragonfly/common/status.h"
#include "dragonfly/rpc/tls.h"

namespace df::scheduler {

class SeedTrigger {
 public:
  using Done = std::function<void(Status)>;
  virtual ~SeedTrigger() = default;
  // `host` is the seed host (ip, rpc_port); `peer_id` the peer ID the scheduler assigned.
  virtual void Trigger(const dragonfly::api::scheduler::Host& host, const std::string& peer_id,
                       const dragonfly::api::scheduler::TaskSpec& spec, Done done) = 0;
};

// gRPC client (callback API, per-call deadline `timeout`). Channels are cached per target.
// The destructor waits for calls in flight, so their `done` callbacks have all run.
// `credentials` null: plaintext. With TLS, the daemon must present a seed-peer certificate.
std::unique_ptr<SeedTrigger> MakeGrpcSeedTrigger(
    std::chrono::milliseconds timeout,
    std::shared_ptr<const rpc::Credentials> credentials = nullptr);

}  // namespace df::scheduler
