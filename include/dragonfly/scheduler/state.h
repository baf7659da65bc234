// The scheduler's in-memory state: hosts, tasks and peers, and the decisions made on them
// (which neighbours a peer gets, who may go back to the origin, which seed host a task is
// pinned to, garbage collection).
//
// Threading contract: every public method is thread-safe; all state sits behind one mutex that
// is held only for in-memory work. No network I/O happens under it: a seed trigger decided by
// RegisterPeer() is started after the mutex is released, and its completion callback takes the
// mutex again (it may run on any thread, even inline inside SeedTrigger::Trigger()).
//
// Decisions (RegisterPeer):
//   * A task without a seed peer, while live seed hosts exist that have not failed it, is pinned
//     to one seed host by consistent hashing of the task ID; a seed peer entry is created there
//     and triggered. When that seed peer registers it gets BACK_TO_SOURCE (it is the root). If
//     the registering host is itself the chosen seed host it gets BACK_TO_SOURCE directly.
//   * Neighbours (at most candidate_parent_limit) are registered peers of the task, running
//     ones included, on other hosts: never self, the same host, a blocked or failed peer, or
//     one the peer already has (`connected`), chosen among at most filter_parent_limit peers of
//     the task drawn at random (all of a smaller task), so a decision costs the same for a task
//     of 50 peers and one of 5,000. The task's seed peer comes first while no other
//     peer holds the whole task (a seed triggered but not yet registered is not offered: the
//     peer is told to retry within milliseconds); half the rest are the best scored, the other
//     half random. Connections are used both ways: there is no parent/child graph.
//   * With no candidate: BACK_TO_SOURCE when nothing can feed the task (no active peer, no usable
//     seed host) or when the peer asks for it (need_back_to_source), provided fewer than
//     back_to_source_count normal peers of the task are back-to-source and not failed. Otherwise
//     RETRY after retry_interval -- also when the limit is reached and the peer asked: the peer
//     decides what to do once its own retry budget is spent. Seed peers do not count against
//     the limit.
//   * Hosts on the cluster's block list (ApplyClusterConfig: hostnames or IPs) are never offered
//     as neighbours, and are never picked as a task's seed host.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/scheduler.pb.h"
#include "dragonfly/common/blocklist.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/status.h"
#include "dragonfly/scheduler/clock.h"
#include "dragonfly/scheduler/config.h"
#include "dragonfly/scheduler/metrics.h"
#include "dragonfly/scheduler/seed_trigger.h"

namespace df::scheduler {

namespace api = ::dragonfly::api::scheduler;

// A read-only copy of one peer, for tests and debugging.
struct PeerInfo {
  PeerId id;
  HostId host_id;
  TaskId task_id;
  std::string phase;  // "pending", "triggered", "running", "succeeded", "failed"
  bool is_seed = false;
  bool back_to_source = false;
};

// Scheduling settings of the scheduler's cluster, pushed by the manager (the KeepAliveResponse's
// SchedulerClusterConfig). Numeric zero values keep the current setting. The block list is the
// cluster's whole current list and replaces the previous one (empty = nobody blocked).
struct ClusterConfig {
  uint64_t version = 0;                 // applied only when newer than the last applied one
  uint32_t candidate_parent_limit = 0;  // neighbours per registration, [1, 20]
  uint32_t filter_parent_limit = 0;     // candidates sampled per registration, [1, 1000]
  uint32_t back_to_source_count = 0;    // SchedulerOptions::back_to_source_count
  uint32_t upload_slots = 0;            // SchedulerOptions::default_upload_slots
  std::set<std::string> blocked_hosts;  // hostnames or IPs never chosen as neighbours
  // Tasks refused at registration (PermissionDenied); null = none. Replaces the previous one.
  std::shared_ptr<const TaskBlocklist> blocklist;
};

struct GcResult {
  size_t hosts_removed = 0;
  size_t peers_removed = 0;
  size_t tasks_removed = 0;
};

class SchedulerState {
 public:
  // `trigger` must not be null. `clock` (null = SteadyClock()) and `metrics` (may be null) must
  // outlive this object.
  SchedulerState(SchedulerOptions options, std::unique_ptr<SeedTrigger> trigger,
                 const Clock* clock = nullptr, SchedulerMetrics* metrics = nullptr);
  // Destroys the seed trigger first (waiting for its calls in flight).
  ~SchedulerState();
  SchedulerState(const SchedulerState&) = delete;
  SchedulerState& operator=(const SchedulerState&) = delete;

  // `reached_over`: the address family of the host's connection to the scheduler; its peers
  // are given parents' addresses of that family first.
  StatusOr<api::AnnounceHostResponse> AnnounceHost(const api::AnnounceHostRequest& req,
                                                   net::Family reached_over = net::Family::kAny);
  // Removes the host and all its peers. Unknown hosts are ignored.
  Status LeaveHost(const HostId& host_id);
  // FailedPrecondition("host not announced") for an unknown host. `candidates`, when given,
  // gets how many of the task's peers the decision looked at (its trace span shows it).
  StatusOr<api::RegisterPeerResponse> RegisterPeer(const api::RegisterPeerRequest& req,
                                                   uint64_t* candidates = nullptr);
  // NotFound for an unknown peer (the peer should register again).
  Status ReportPeer(const api::ReportPeerRequest& req);
  // A finished task a host holds (after a restart): a succeeded peer of the task, no decision.
  Status AnnounceTask(const api::AnnounceTaskRequest& req);
  // Removes the peer. Unknown peers are ignored.
  Status LeavePeer(const PeerId& peer_id);

  // Drops hosts not announced within host_ttl (with their peers), failed peers, unfinished
  // peers idle longer than peer_ttl, the oldest succeeded peers above the per-task cap, and
  // tasks without peers.
  GcResult RunGc(Clock::TimePoint now);

  // Called when a seed trigger finishes; public for the trigger callback and for tests.
  void OnSeedTriggerDone(const TaskId& task_id, const PeerId& peer_id, const HostId& host_id,
                         const Status& status);

  // Applies `config` if its version is newer than the last applied one (the first one is
  // applied when its version is > 0); returns whether it did. Takes effect for the next
  // RegisterPeer: parents already handed out are not taken back.
  bool ApplyClusterConfig(const ClusterConfig& config);
  // The version of the last applied cluster config, 0 = none.
  uint64_t cluster_config_version() const;

  size_t host_count() const;
  size_t peer_count() const;
  size_t task_count() const;
  // Peers looked at by neighbour choice since the start (the cost of decisions: tests, benches).
  uint64_t candidates_examined() const;
  std::optional<PeerInfo> GetPeer(const PeerId& peer_id) const;
  // The URL a known task is bound to (its first registration's spec).
  std::optional<std::string> TaskUrl(const TaskId& task_id) const;
  // A known task: its URL, geometry and, `with_peers`, its peers (at most 1,000). nullopt when
  // the task is unknown here.
  std::optional<api::StatTaskResponse> StatTask(const TaskId& task_id, bool with_peers) const;
  // The live swarm view of a known task: its peers with what each received from which neighbour
  // (totals and rates, from their reports). nullopt when the task is unknown here.
  std::optional<api::InspectTaskResponse> InspectTask(const TaskId& task_id) const;
  // The `limit` most recently active tasks (0: 100; at most 1,000), most recent first.
  api::ListTasksResponse ListTasks(uint32_t limit) const;
  // The host name a known host announced (the name its certificate must carry).
  std::optional<std::string> HostnameOf(const HostId& host_id) const;
  // A known host's announcement.
  std::optional<api::Host> HostInfo(const HostId& host_id) const;
  // The announced hosts, but those on the cluster's block list.
  std::vector<api::Host> UsableHosts() const;
  // The hosts with a peer of the task (each once).
  std::vector<HostId> HostsOfTask(const TaskId& task_id) const;
  // The task's current seed peer ID, empty when none.
  PeerId SeedPeerOf(const TaskId& task_id) const;
  // A copy: the cluster config may change the options at any time.
  SchedulerOptions options() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace df::scheduler
