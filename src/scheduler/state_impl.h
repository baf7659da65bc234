// Internal model of SchedulerState. Every function here requires Impl::mu to be held.
#pragma once

#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "dragonfly/common/hash_ring.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/common/net.h"
#include "dragonfly/scheduler/state.h"

namespace df::scheduler {

using TimePoint = Clock::TimePoint;

struct HostEntry {
  HostId id;       // info.id()
  api::Host info;  // info.ips (never empty) in the order to hand out; info.ip is the first
  // The family the host reached the scheduler over: its peers get parents' addresses of this
  // family first (kAny when unknown).
  net::Family reached_over = net::Family::kAny;
  api::HostLoad load;
  TimePoint last_announce;
  double throughput_bps = 0;  // EWMA of bytes/busy time reported by children of this host
  uint64_t upload_failures = 0;
  std::unordered_set<PeerId> peers;
};

// Moves the addresses of family `first` to the front, keeping the order within each family.
void OrderByFamily(std::vector<std::string>* ips, net::Family first);

enum class Phase { kPending, kTriggered, kRunning, kSucceeded, kFailed };

struct TaskEntry;

// Piece bytes a peer received from one neighbour, from its reports (the live swarm view). The
// neighbour is kept as the hash of its peer ID (32 bytes an edge instead of ~90), resolved
// against the task's members when inspected.
struct InEdge {
  size_t from_hash = 0;      // std::hash<PeerId> of the neighbour
  uint64_t total = 0;        // since the peer registered
  uint64_t last = 0;         // in its last report
  uint32_t interval_ms = 0;  // the time that last report covers
};

struct PeerEntry {
  PeerId id;
  HostId host_id;
  TaskId task_id;
  HostEntry* host = nullptr;  // its entry in Impl::hosts (stable: node-based map; a host's
                              // peers are removed before the host)
  Phase phase = Phase::kPending;
  bool is_seed = false;         // the task's (possibly former) seed peer
  bool registered = false;      // false for a triggered seed that has not registered yet
  bool back_to_source = false;  // allowed to or reported to fetch from the origin
  uint32_t finished_pieces = 0;
  uint32_t total_pieces = 0;
  TimePoint last_active;
  TimePoint succeeded_at;
  TaskEntry* task = nullptr;  // its entry in Impl::tasks (stable: node-based map)
  size_t member_index = 0;    // its position in task->members
  // Its reports: inbound edges (at most kMaxInEdges, in order of first bytes) and when the last
  // report came (last_report == TimePoint{}: none yet).
  std::vector<InEdge> inbound;
  TimePoint last_report;
  // What this peer adds to its task's counts, as of the last Impl::Recount.
  bool counted_source = false;
  bool counted_finished = false;
  bool counted_back_to_source = false;
};

struct TaskEntry {
  api::TaskSpec spec;
  // The task's peers, in no order: random access to sample candidates, O(1) removal.
  std::vector<PeerEntry*> members;
  // Kept by Impl::Recount as peers change, so that a registration walks none of the peers:
  uint32_t sources = 0;                // peers with Impl::HasSource
  uint32_t finished = 0;               // succeeded peers other than the seed
  uint32_t back_to_source = 0;         // normal peers allowed back to source and not failed
  PeerId seed_peer_id;                 // empty = none
  std::set<HostId> failed_seed_hosts;  // seed hosts whose trigger or download failed
  int64_t content_length = -1;
  uint32_t piece_length = 0;
  uint32_t total_pieces = 0;
  TimePoint last_active;  // the last registration or report of any of its peers
};

constexpr size_t kMaxInEdges = 64;

// A seed trigger decided under the mutex and started after it is released.
struct PendingTrigger {
  api::Host host;
  PeerId peer_id;
  api::TaskSpec spec;
};

struct SchedulerState::Impl {
  SchedulerOptions opts;
  std::unique_ptr<SeedTrigger> trigger;
  const Clock* clock;
  SchedulerMetrics* metrics;

  mutable std::mutex mu;
  std::unordered_map<HostId, HostEntry> hosts;
  std::unordered_map<PeerId, PeerEntry> peers;
  std::unordered_map<TaskId, TaskEntry> tasks;
  HashRing seed_ring;
  uint64_t cluster_config_version = 0;
  std::set<std::string> blocked_hosts;  // hostnames and IPs (ClusterConfig::blocked_hosts)
  std::shared_ptr<const TaskBlocklist> blocklist;  // ClusterConfig::blocklist (null: none)
  std::mt19937_64 rng{std::random_device{}()};     // the random part of neighbour choice
  uint64_t candidates_examined = 0;  // peers looked at by neighbour choice (tests, benches)

  // register.cc
  StatusOr<api::RegisterPeerResponse> Register(const api::RegisterPeerRequest& req,
                                               std::optional<PendingTrigger>* trigger_out);

  // What a registration says of the peer's progress (a peer registering again mid-download).
  void TakeProgress(const api::RegisterPeerRequest& req, TaskEntry& task, PeerEntry& peer);
  // `peer`, a new seed session of a seed host, becomes the task's seed when the task has none or
  // its seed is a triggered placeholder on the same host that never registered.
  void AdoptSeed(TaskEntry& task, PeerEntry& peer);

  // Room for a new peer of `task_id` on `host` (scheduler.maxTasks, maxPeersPerTask,
  // maxPeersPerHost), else ResourceExhausted naming the bound.
  Status CheckRoom(const HostEntry& host, const TaskId& task_id) const;

  // state.cc
  uint32_t SlotsOf(const HostEntry& h) const;
  bool IsBlocked(const HostEntry& h) const;
  // Succeeded, allowed back to source, or holding pieces.
  static bool HasSource(const PeerEntry& p);
  // The peer fails; a failed seed makes its task look for another seed host.
  void FailPeer(PeerEntry& p);
  // Makes `p` (new in `t`) one of the task's members.
  void AddMember(TaskEntry& t, PeerEntry& p);
  // Brings p's task counts up to date; call after changing its phase, registered,
  // back_to_source, finished_pieces or is_seed.
  void Recount(PeerEntry& p);
  void RemovePeer(const PeerId& peer_id);
  void RemoveHost(const HostId& host_id);
  // Peer `peer_id` of `task` on `host`, made when it is not known yet (second: made now);
  // InvalidArgument when it is registered with another host or task.
  StatusOr<std::pair<PeerEntry*, bool>> PeerOf(const PeerId& peer_id, HostEntry& host,
                                               TaskEntry& task, const TaskId& task_id);
  void UpdateGauges();
};

const char* PhaseName(Phase p);

}  // namespace df::scheduler
