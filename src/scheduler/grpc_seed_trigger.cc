// DfdaemonUpload/TriggerSeed over the gRPC callback client API.
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/common/net.h"
#include "dragonfly/scheduler/seed_trigger.h"
#include "dragonfly/tracing/grpc.h"

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
      : timeout_(timeout),
        credentials_(credentials ? std::move(credentials) : rpc::Credentials::Insecure()) {}

  ~GrpcSeedTrigger() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ == 0; });
  }

  void Trigger(const dragonfly::api::scheduler::Host& host, const std::string& peer_id,
               const dragonfly::api::scheduler::TaskSpec& spec, Done done) override {
    // host.ip: the address of the family the seed reached the scheduler over.
    std::string target = net::JoinHostPort(host.ip(), static_cast<uint16_t>(host.rpc_port()));
    auto* call = new Call;
    call->req.set_peer_id(peer_id);
    *call->req.mutable_task() = spec;
    call->ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    tracing::InjectCurrent(&call->ctx);  // the registration that triggered it
    dfdaemon::DfdaemonUpload::Stub* stub = StubFor(target);
    stub->async()->TriggerSeed(
        &call->ctx, &call->req, &call->resp,
        [this, call, target, done = std::move(done)](grpc::Status s) {
          delete call;
          if (s.ok()) {
            done(Status::Ok());
          } else {
            done(Unavailable("TriggerSeed " + target + ": " + s.error_message()));
          }
          std::lock_guard<std::mutex> lock(mu_);
          if (--in_flight_ == 0) {
            cv_.notify_all();
          }
        });
  }

 private:
  // Counts the call as in flight and returns the cached stub of `target`.
  dfdaemon::DfdaemonUpload::Stub* StubFor(const std::string& target) {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
    auto& stub = stubs_[target];
    if (!stub) {
      stub = dfdaemon::DfdaemonUpload::NewStub(
          credentials_->Dial(target, {security::Role::kSeedPeer}));
    }
    return stub.get();
  }

  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<const rpc::Credentials> credentials_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  std::map<std::string, std::unique_ptr<dfdaemon::DfdaemonUpload::Stub>> stubs_;
};

}  // namespace

std::unique_ptr<SeedTrigger> MakeGrpcSeedTrigger(
    std::chrono::milliseconds timeout, std::shared_ptr<const rpc::Credentials> credentials) {
  return std::make_unique<GrpcSeedTrigger>(timeout, std::move(credentials));
}

}  // namespace df::scheduler
