// DfdaemonUpload/ReplicateCache and DeleteTask over the gRPC callback client API.
#include <grpcpp/grpcpp.h>

#include "dragonfly/common/net.h"
#include "dragonfly/scheduler/persistent_cache.h"
#include "scheduler/upload_calls.h"

namespace df::scheduler {
namespace {

namespace dfdaemon = ::dragonfly::api::dfdaemon;

template <typename Req, typename Resp>
struct Call {
  grpc::ClientContext ctx;
  Req req;
  Resp resp;
};

class GrpcReplicaTrigger final : public ReplicaTrigger {
 public:
  GrpcReplicaTrigger(std::chrono::milliseconds timeout,
                     std::shared_ptr<const rpc::Credentials> credentials)
      : calls_(timeout, std::move(credentials),
               {security::Role::kSeedPeer, security::Role::kDaemon}) {}

  void Replicate(const api::Host& host, const std::string& peer_id,
                 const api::PersistentCacheTask& task, Done done) override {
    auto* call = new Call<dfdaemon::ReplicateCacheRequest, dfdaemon::ReplicateCacheResponse>;
    call->req.set_peer_id(peer_id);
    *call->req.mutable_task() = task;
    const std::string target = Target(host);
    calls_.Begin(target, &call->ctx)
        ->async()
        ->ReplicateCache(&call->ctx, &call->req, &call->resp,
                         Finish(call, "ReplicateCache " + target, std::move(done)));
  }

  void Delete(const api::Host& host, const std::string& task_id, Done done) override {
    auto* call = new Call<dfdaemon::DeleteTaskRequest, dfdaemon::DeleteTaskResponse>;
    call->req.set_task_id(task_id);
    const std::string target = Target(host);
    calls_.Begin(target, &call->ctx)
        ->async()
        ->DeleteTask(&call->ctx, &call->req, &call->resp,
                     Finish(call, "DeleteTask " + target, std::move(done)));
  }

 private:
  static std::string Target(const api::Host& host) {
    return net::JoinHostPort(host.ip(), static_cast<uint16_t>(host.rpc_port()));
  }

  // The completion of `call`: deletes it, reports to `done`, and counts it out.
  template <typename C>
  std::function<void(grpc::Status)> Finish(C* call, std::string what, Done done) {
    return [this, call, what = std::move(what), done = std::move(done)](grpc::Status s) {
      delete call;
      if (s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND) {
        done(Status::Ok());  // deleting what is not there is done too
      } else {
        done(Unavailable(what + ": " + s.error_message()));
      }
      calls_.End();
    };
  }

  UploadCalls calls_;
};

}  // namespace

std::unique_ptr<ReplicaTrigger> MakeGrpcReplicaTrigger(
    std::chrono::milliseconds timeout, std::shared_ptr<const rpc::Credentials> credentials) {
  return std::make_unique<GrpcReplicaTrigger>(timeout, std::move(credentials));
}

}  // namespace df::scheduler
