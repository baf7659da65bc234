// dfcache on this host (docs/dfcache.md): a file imported as a persistent cache task (streamed
// in by dfcache, which reads it with its user's rights), the task's state and deletion through
// its scheduler, the replicas the scheduler asks this host to hold, and the holder's heartbeat:
// every persistent task this host holds whole is announced every announce interval (and dropped
// when the cluster deleted it). Export is an ordinary Download of "dfcache://<id>" (TaskRpcs),
// checked against the digest taken at the import. Internal to df_daemon. Thread-safe.
#pragma once

#include <string>

#include "api/dfdaemon.grpc.pb.h"
#include "daemon/downloads.h"

namespace df::daemon {

namespace dfd = ::dragonfly::api::dfdaemon;

struct CacheLimits {
  uint32_t max_replicas = 16;
  std::chrono::milliseconds max_ttl{std::chrono::hours(24 * 30)};
  int64_t max_bytes = int64_t{1} << 40;  // 1 TiB
};

class CacheRpcs {
 public:
  // `ip`, `hostname`, `seed`: this host, as its stored-task peer IDs name it.
  CacheRpcs(DaemonContext* ctx, Downloads* downloads, std::string ip, std::string hostname,
            bool seed);

  grpc::Status Import(grpc::ServerReader<dfd::ImportCacheRequest>* reader,
                      dfd::ImportCacheResponse* response);
  grpc::Status Stat(const dfd::CacheTaskRequest& request,
                    sched::StatPersistentCacheTaskResponse* response);
  grpc::Status Delete(const dfd::CacheTaskRequest& request,
                      sched::DeletePersistentCacheTaskResponse* response);
  // The scheduler asks this host to hold a replica: downloads it from the holders, keeps it.
  grpc::Status Replicate(const dfd::ReplicateCacheRequest& request);
  // The heartbeat: announces each persistent task held whole; drops those the cluster deleted.
  void AnnounceHoldings();

 private:
  // Tells the task's scheduler this host holds `t` (whole, persistent).
  Status AnnounceOne(const storage::TaskStat& t, bool imported = false);
  std::string PeerIdOf(const std::string& task_id) const;
  // Whether the task's content matches its import's digest (checked once, then remembered in
  // the task's metadata; a mismatch discards it).
  bool Checked(const storage::TaskStat& t);

  DaemonContext* ctx_;
  Downloads* downloads_;
  const std::string ip_;
  const std::string hostname_;
  const bool seed_;
  const CacheLimits limits_;
};

// The digest a persistent cache task's content must have, from its scheduler ("" when the task
// is not in the cluster); for the Download of "dfcache://<id>".
StatusOr<std::string> PersistentCacheDigest(SchedulerApi& scheduler, const std::string& task_id);

}  // namespace df::daemon
