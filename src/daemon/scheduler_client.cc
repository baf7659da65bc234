#include "daemon/scheduler_client.h"

#include <grpcpp/grpcpp.h>

#include <functional>

#include "dragonfly/rpc/status.h"

namespace df::daemon {

SchedulerClient::SchedulerClient(const std::vector<std::string>& addrs,
                                 std::chrono::milliseconds timeout)
    : addrs_(addrs), timeout_(timeout) {
  for (const auto& a : addrs) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    stubs_.push_back(sched::Scheduler::NewStub(
        grpc::CreateCustomChannel(a, grpc::InsecureChannelCredentials(), args)));
  }
}

template <typename Call>
Status SchedulerClient::ForTask(const std::string& task_id, Call&& call) {
  if (stubs_.empty()) {
    return Unavailable("no scheduler configured");
  }
  size_t start = std::hash<std::string>{}(task_id.substr(0, 5)) % stubs_.size();
  Status last;
  for (size_t i = 0; i < stubs_.size(); ++i) {
    size_t k = (start + i) % stubs_.size();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    last = rpc::FromGrpc(call(*stubs_[k], &ctx), "scheduler " + addrs_[k]);
    if (last.code() != StatusCode::kUnavailable && last.code() != StatusCode::kDeadlineExceeded) {
      return last;
    }
  }
  return last;
}

StatusOr<sched::RegisterPeerResponse> SchedulerClient::RegisterPeer(
    const sched::RegisterPeerRequest& req) {
  sched::RegisterPeerResponse resp;
  Status s =
      ForTask(req.task().task_id(), [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
        return stub.RegisterPeer(ctx, req, &resp);
      });
  if (!s.ok()) {
    return s;
  }
  return resp;
}

Status SchedulerClient::ReportPeer(const sched::ReportPeerRequest& req) {
  sched::ReportPeerResponse resp;
  return ForTask(req.task_id(), [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
    return stub.ReportPeer(ctx, req, &resp);
  });
}

Status SchedulerClient::LeavePeer(const sched::LeavePeerRequest& req) {
  sched::LeavePeerResponse resp;
  return ForTask(req.task_id(), [&](sched::Scheduler::Stub& stub, grpc::ClientContext* ctx) {
    return stub.LeavePeer(ctx, req, &resp);
  });
}

Status SchedulerClient::AnnounceHost(const sched::AnnounceHostRequest& req) {
  Status result = Unavailable("no scheduler configured");
  for (size_t k = 0; k < stubs_.size(); ++k) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
    sched::AnnounceHostResponse resp;
    Status s = rpc::FromGrpc(stubs_[k]->AnnounceHost(&ctx, req, &resp), "scheduler " + addrs_[k]);
    if (s.ok() || result.code() == StatusCode::kUnavailable) {
      result = s;
    }
  }
  return result;
}

void SchedulerClient::LeaveHost(const std::string& host_id) {
  for (auto& stub : stubs_) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    sched::LeaveHostRequest req;
    req.set_host_id(host_id);
    sched::LeaveHostResponse resp;
    (void)stub->LeaveHost(&ctx, req, &resp);
  }
}

}  // namespace df::daemon
