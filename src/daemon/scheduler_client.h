// gRPC client of the scheduler(s). A task's RPCs go to the scheduler chosen by hashing the task
// ID, failing over to the next on UNAVAILABLE; host announcements go to every scheduler.
// Thread-safe (gRPC stubs are).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/scheduler.grpc.pb.h"
#include "dragonfly/common/status.h"

namespace df::daemon {

namespace sched = ::dragonfly::api::scheduler;

class SchedulerClient {
 public:
  SchedulerClient(const std::vector<std::string>& addrs, std::chrono::milliseconds timeout);
  bool enabled() const { return !stubs_.empty(); }

  StatusOr<sched::RegisterPeerResponse> RegisterPeer(const sched::RegisterPeerRequest& req);
  Status ReportPeer(const sched::ReportPeerRequest& req);
  Status LeavePeer(const sched::LeavePeerRequest& req);
  // Announces to every scheduler; ok if at least one accepted.
  Status AnnounceHost(const sched::AnnounceHostRequest& req);
  void LeaveHost(const std::string& host_id);

 private:
  template <typename Call>
  Status ForTask(const std::string& task_id, Call&& call);

  std::vector<std::string> addrs_;
  std::vector<std::unique_ptr<sched::Scheduler::Stub>> stubs_;
  std::chrono::milliseconds timeout_;
};

}  // namespace df::daemon
