// Persistent cache tasks (dfcache, docs/dfcache.md): which hosts hold each, and keeping that
// number at the task's replica count until its expiry.
//
// A holder announces the task after its import, once it has replicated it, after a restart and
// then every announce interval: the announcements are the holders' heartbeats, so a holder not
// heard of for `holder_ttl` is gone, and a scheduler that restarts (or takes the task over)
// learns the task again from its holders within one interval -- nothing is replicated between
// schedulers. Each announcement also makes the holder a finished peer of the task in the
// SchedulerState, so downloads (exports, replications) get the holders as neighbours.
//
// Tick() drops expired tasks and silent holders, and asks hosts to replicate a task with fewer
// holders than its replicas: seed hosts first, then the others, never a host that holds it, is
// replicating it, or failed to within the last minute. Delete() tells every host with a peer of
// the task to drop it, and remembers the deletion until the task's expiry, so that a holder that
// was away is told to drop it when it announces.
//
// Thread-safe. No network I/O under the lock: replications and deletions are started after it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/scheduler.pb.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/common/status.h"
#include "dragonfly/scheduler/clock.h"
#include "dragonfly/scheduler/state.h"

namespace df::scheduler {

// Asks a host to hold a replica (DfdaemonUpload/ReplicateCache) or to drop a task
// (DfdaemonUpload/DeleteTask). Asynchronous: `done` runs later on any thread (or inline).
class ReplicaTrigger {
 public:
  using Done = std::function<void(Status)>;
  virtual ~ReplicaTrigger() = default;
  virtual void Replicate(const api::Host& host, const std::string& peer_id,
                         const api::PersistentCacheTask& task, Done done) = 0;
  virtual void Delete(const api::Host& host, const std::string& task_id, Done done) = 0;
};

// gRPC client of the hosts' upload services (per-call deadline `timeout`); waits for its calls
// in flight when destroyed. `credentials` null: plaintext.
std::unique_ptr<ReplicaTrigger> MakeGrpcReplicaTrigger(
    std::chrono::milliseconds timeout,
    std::shared_ptr<const rpc::Credentials> credentials = nullptr);

struct PersistentCacheOptions {
  std::chrono::milliseconds holder_ttl{std::chrono::seconds(100)};
  // A replication not announced by then is given up (another host is asked).
  std::chrono::milliseconds replicate_timeout{std::chrono::minutes(10)};
  uint32_t max_replicas = 16;
  uint32_t max_tasks = 100000;
};

class PersistentCacheRegistry {
 public:
  // `state`, `trigger` and `clock` (null: SteadyClock()) must outlive this object. `now_ms`
  // gives Unix time in ms (null: the system clock), for the tasks' expiry.
  PersistentCacheRegistry(SchedulerState* state, ReplicaTrigger* trigger,
                          PersistentCacheOptions options, const Clock* clock = nullptr,
                          std::function<int64_t()> now_ms = nullptr);
  ~PersistentCacheRegistry();
  PersistentCacheRegistry(const PersistentCacheRegistry&) = delete;
  PersistentCacheRegistry& operator=(const PersistentCacheRegistry&) = delete;

  // A host holds the task. InvalidArgument for a bad task; FailedPrecondition for an unknown
  // host (announce it first); `deleted` set when the cluster deleted the task.
  StatusOr<api::AnnouncePersistentCacheTaskResponse> Announce(
      const api::AnnouncePersistentCacheTaskRequest& req);
  api::StatPersistentCacheTaskResponse Stat(const TaskId& task_id) const;
  // Tells every host with a peer of the task to drop it; NotFound for an unknown task.
  StatusOr<api::DeletePersistentCacheTaskResponse> Delete(const TaskId& task_id);
  api::ListPersistentCacheTasksResponse List() const;
  // Expiry, silent holders, replications (see above).
  void Tick();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with the callbacks of calls in flight
};

}  // namespace df::scheduler
