// SchedulerApi: what a download session asks of the scheduler. SchedulerClient (gRPC, with
// failover over the scheduler list) implements it; session tests use a fake.
#pragma once

#include "api/scheduler.pb.h"
#include "dragonfly/common/status.h"

namespace df::daemon {

namespace sched = ::dragonfly::api::scheduler;

class SchedulerApi {
 public:
  virtual ~SchedulerApi() = default;
  // False when no scheduler is configured (every download goes back to source).
  virtual bool enabled() const = 0;
  virtual StatusOr<sched::RegisterPeerResponse> RegisterPeer(
      const sched::RegisterPeerRequest& req) = 0;
  virtual Status ReportPeer(const sched::ReportPeerRequest& req) = 0;
  virtual Status LeavePeer(const sched::LeavePeerRequest& req) = 0;
};

}  // namespace df::daemon
