// The live swarm view for the console: the manager asks the schedulers (ListTasks, InspectTask:
// what they learn from the peers' reports) and answers JSON. The owner of a task is whichever
// active scheduler knows it with the most peers -- after a failover the new owner has rebuilt
// the swarm, and a scheduler that lost the task forgets it.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dragonfly/common/status.h"
#include "dragonfly/rpc/tls.h"
#include "manager/store.h"

namespace df::manager {

class SwarmInspector {
 public:
  SwarmInspector(Store* store, std::shared_ptr<const rpc::Credentials> credentials)
      : store_(store), credentials_(std::move(credentials)) {}

  // The most recently active tasks of the active schedulers (of `cluster_id` when given),
  // most recent first, at most `limit`: [{task_id, url, content_length, peers, succeeded,
  // running, last_active_ms_ago, scheduler, cluster_id}].
  StatusOr<nlohmann::json> ListTasks(std::optional<int64_t> cluster_id, uint32_t limit);

  // One task's swarm: {task_id, url, content_length, piece_length, total_pieces, scheduler,
  // cluster_id, peers: [{peer_id, hostname, ip, phase, seed, back_to_source, finished_pieces,
  // total_pieces, bytes_from_peers, bytes_from_origin, rate_bps, last_report_ms_ago,
  // inbound: [{from_peer_id, from_hostname, bytes_total, rate_bps}]}]}. NotFound when no active
  // scheduler knows it.
  StatusOr<nlohmann::json> Inspect(const std::string& task_id);

  // The persistent cache tasks (dfcache) the active schedulers (of `cluster_id`) keep, newest
  // first: [{task_id, tag, application, content_length, piece_length, total_pieces, digest,
  // replicas, state, replicating, created_at_ms, expires_at_ms, holders: [{host_id, hostname,
  // ip, seed, last_seen_ms_ago}], scheduler, cluster_id}].
  StatusOr<nlohmann::json> ListPersistentCacheTasks(std::optional<int64_t> cluster_id);
  // Deletes one everywhere (its scheduler tells the hosts); {task_id, hosts}. NotFound when no
  // active scheduler keeps it.
  StatusOr<nlohmann::json> DeletePersistentCacheTask(const std::string& task_id);

 private:
  // The active schedulers (of `cluster_id` when given).
  StatusOr<std::vector<ComponentRow>> ActiveSchedulers(std::optional<int64_t> cluster_id) const;

  Store* store_;
  std::shared_ptr<const rpc::Credentials> credentials_;
};

}  // namespace df::manager
