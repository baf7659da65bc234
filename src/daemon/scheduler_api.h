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
  // A task this host holds whole, after a restart (see stored_tasks.h).
  virtual Status AnnounceTask(const sched::AnnounceTaskRequest& /*req*/) {
    return FailedPrecondition("this scheduler client does not announce stored tasks");
  }
  // Persistent cache tasks (dfcache): this host holds one; their state; their deletion.
  virtual StatusOr<sched::AnnouncePersistentCacheTaskResponse> AnnouncePersistentCacheTask(
      const sched::AnnouncePersistentCacheTaskRequest& /*req*/) {
    return FailedPrecondition("no scheduler: persistent cache tasks need one");
  }
  virtual StatusOr<sched::StatPersistentCacheTaskResponse> StatPersistentCacheTask(
      const std::string& /*task_id*/) {
    return FailedPrecondition("no scheduler: persistent cache tasks need one");
  }
  virtual StatusOr<sched::DeletePersistentCacheTaskResponse> DeletePersistentCacheTask(
      const std::string& /*task_id*/) {
    return FailedPrecondition("no scheduler: persistent cache tasks need one");
  }
  // The URL a blob task is bound to at its scheduler ("" when the task is unknown there or not
  // a blob task).
  virtual StatusOr<std::string> BoundBlobUrl(const std::string& /*task_id*/) {
    return std::string();
  }
};

}  // namespace df::daemon
