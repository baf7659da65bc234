// DfdaemonUpload/TriggerSeed over the gRPC callback client API.
#include <grpcpp/grpcpp.h>

#include "dragonfly/common/net.h"
#include "dragonfly/scheduler/seed_trigger.h"
#include "dragonfly/tracing/grpc.h"
#include "scheduler/upload_calls.h"

namespace df::scheduler {
namespace {

namespace dfdaemon = ::dragonfly::api::dfdaemon;

struct Call {
  grpc::ClientContext ctx;
  dfdaemon::TriggerSeedRequest req;
  dfdaemon::TriggerSeedResponse resp;
};

class GrpcSeedTrigger final : public SeedTrigger {
 public:
  GrpcSeedTrigger(std::chrono::milliseconds timeout,
                  std::shared_ptr<const rpc::Credentials> credentials)
      : calls_(timeout, std::move(credentials), {security::Role::kSeedPeer}) {}

  void Trigger(const dragonfly::api::scheduler::Host& host, const std::string& peer_id,
               const dragonfly::api::scheduler::TaskSpec& spec, Done done) override {
    // host.ip: the address of the family the seed reached the scheduler over.
    std::string target = net::JoinHostPort(host.ip(), static_cast<uint16_t>(host.rpc_port()));
    auto* call = new Call;
    call->req.set_peer_id(peer_id);
    *call->req.mutable_task() = spec;
    dfdaemon::DfdaemonUpload::Stub* stub = calls_.Begin(target, &call->ctx);
    tracing::InjectCurrent(&call->ctx);  // the registration that triggered it
    stub->async()->TriggerSeed(
        &call->ctx, &call->req, &call->resp,
        [this, call, target, done = std::move(done)](grpc::Status s) {
          delete call;
          if (s.ok()) {
            done(Status::Ok());
          } else {
            done(Unavailable("TriggerSeed " + target + ": " + s.error_message()));
          }
          calls_.End();
        });
  }

 private:
  UploadCalls calls_;
};

}  // namespace

std::unique_ptr<SeedTrigger> MakeGrpcSeedTrigger(
    std::chrono::milliseconds timeout, std::shared_ptr<const rpc::Credentials> credentials) {
  return std::make_unique<GrpcSeedTrigger>(timeout, std::move(credentials));
}

}  // namespace df::scheduler
