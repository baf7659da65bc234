#include "dragonfly/scheduler/state.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "dragonfly/rpc/task_spec.h"
#include "scheduler/state_impl.h"

namespace df::scheduler {
namespace {

constexpr double kThroughputAlpha = 0.3;  // EWMA weight of the newest sample
constexpr int kMaxHostIps = 8;

// The host's announced addresses (ip, then ips), canonical, without duplicates, those of the
// family it reached us over first.
StatusOr<std::vector<std::string>> HostAddresses(const api::Host& info, net::Family reached_over) {
  if (info.ips_size() > kMaxHostIps) {
    return InvalidArgument("host " + info.id() + " announces more than " +
                           std::to_string(kMaxHostIps) + " addresses");
  }
  std::vector<std::string> ips;
  auto add = [&](const std::string& raw) -> Status {
    DF_ASSIGN_OR_RETURN(std::string ip, net::CanonicalIp(raw).Annotate("host " + info.id()));
    if (std::find(ips.begin(), ips.end(), ip) == ips.end()) {
      ips.push_back(std::move(ip));
    }
    return Status::Ok();
  };
  DF_RETURN_IF_ERROR(add(info.ip()));
  for (const std::string& ip : info.ips()) {
    DF_RETURN_IF_ERROR(add(ip));
  }
  OrderByFamily(&ips, reached_over);
  return ips;
}

}  // namespace

void OrderByFamily(std::vector<std::string>* ips, net::Family first) {
  if (first == net::Family::kAny) {
    return;
  }
  // Not std::stable_partition: libstdc++'s uses get_temporary_buffer, deprecated for clang.
  std::vector<std::string> same, other;
  for (std::string& ip : *ips) {
    (net::LiteralFamily(ip) == first ? same : other).push_back(std::move(ip));
  }
  same.insert(same.end(), std::make_move_iterator(other.begin()),
              std::make_move_iterator(other.end()));
  *ips = std::move(same);
}

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kPending:
      return "pending";
    case Phase::kTriggered:
      return "triggered";
    case Phase::kRunning:
      return "running";
    case Phase::kSucceeded:
      return "succeeded";
    case Phase::kFailed:
      return "failed";
  }
  return "unknown";
}

uint32_t SchedulerState::Impl::SlotsOf(const HostEntry& h) const {
  return h.info.upload_slots() > 0 ? h.info.upload_slots() : opts.default_upload_slots;
}

bool SchedulerState::Impl::IsBlocked(const HostEntry& h) const {
  if (blocked_hosts.empty()) {
    return false;
  }
  return blocked_hosts.count(h.info.hostname()) > 0 ||
         std::any_of(h.info.ips().begin(), h.info.ips().end(),
                     [&](const std::string& ip) { return blocked_hosts.count(ip) > 0; });
}

bool SchedulerState::Impl::HasSource(const PeerEntry& p) {
  if (!p.registered || p.phase == Phase::kFailed) {
    return false;
  }
  return p.phase == Phase::kSucceeded || p.back_to_source || p.finished_pieces > 0;
}

void SchedulerState::Impl::FailPeer(PeerEntry& p) {
  p.phase = Phase::kFailed;
  Recount(p);
  if (p.task->seed_peer_id == p.id) {
    p.task->seed_peer_id.clear();
    p.task->failed_seed_hosts.insert(p.host_id);
  }
}

void SchedulerState::Impl::AddMember(TaskEntry& t, PeerEntry& p) {
  p.task = &t;
  p.member_index = t.members.size();
  t.members.push_back(&p);
}

namespace {

void Count(bool now, bool* counted, uint32_t* total) {
  if (now != *counted) {
    now ? ++*total : --*total;
    *counted = now;
  }
}

}  // namespace

void SchedulerState::Impl::Recount(PeerEntry& p) {
  TaskEntry& t = *p.task;
  Count(HasSource(p), &p.counted_source, &t.sources);
  Count(p.phase == Phase::kSucceeded && !p.is_seed, &p.counted_finished, &t.finished);
  Count(!p.is_seed && p.back_to_source && p.phase != Phase::kFailed, &p.counted_back_to_source,
        &t.back_to_source);
}

void SchedulerState::Impl::RemovePeer(const PeerId& peer_id) {
  auto it = peers.find(peer_id);
  if (it == peers.end()) {
    return;
  }
  PeerEntry& p = it->second;
  TaskEntry& t = *p.task;
  Count(false, &p.counted_source, &t.sources);
  Count(false, &p.counted_finished, &t.finished);
  Count(false, &p.counted_back_to_source, &t.back_to_source);
  t.members[p.member_index] = t.members.back();
  t.members[p.member_index]->member_index = p.member_index;
  t.members.pop_back();
  if (t.seed_peer_id == peer_id) {
    t.seed_peer_id.clear();
  }
  p.host->peers.erase(peer_id);
  peers.erase(it);
}

void SchedulerState::Impl::RemoveHost(const HostId& host_id) {
  auto it = hosts.find(host_id);
  if (it == hosts.end()) {
    return;
  }
  std::vector<PeerId> ids(it->second.peers.begin(), it->second.peers.end());
  for (const PeerId& id : ids) {
    RemovePeer(id);
  }
  seed_ring.Remove(host_id.str());
  hosts.erase(it);
}

void SchedulerState::Impl::UpdateGauges() {
  if (metrics != nullptr) {
    metrics->SetSizes(hosts.size(), peers.size(), tasks.size());
  }
}

SchedulerState::SchedulerState(SchedulerOptions options, std::unique_ptr<SeedTrigger> trigger,
                               const Clock* clock, SchedulerMetrics* metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = options;
  impl_->trigger = std::move(trigger);
  impl_->clock = clock != nullptr ? clock : SteadyClock();
  impl_->metrics = metrics;
  if (metrics != nullptr) {
    metrics->SetClusterConfig(0, options.candidate_parent_limit);
  }
}

SchedulerState::~SchedulerState() { impl_->trigger.reset(); }

SchedulerOptions SchedulerState::options() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->opts;
}

bool SchedulerState::ApplyClusterConfig(const ClusterConfig& config) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (config.version <= m.cluster_config_version) {
    spdlog::debug("ignored cluster config version={} applied_version={}", config.version,
                  m.cluster_config_version);
    return false;
  }
  if (config.candidate_parent_limit > 0) {
    m.opts.candidate_parent_limit = std::min<uint32_t>(config.candidate_parent_limit, 20);
    if (config.candidate_parent_limit > 20) {
      spdlog::warn("cluster config candidate_parent_limit={} capped to 20",
                   config.candidate_parent_limit);
    }
  }
  if (config.filter_parent_limit > 0) {
    m.opts.filter_parent_limit = std::min<uint32_t>(config.filter_parent_limit, 1000);
  }
  if (config.back_to_source_count > 0) {
    m.opts.back_to_source_count = config.back_to_source_count;
  }
  if (config.upload_slots > 0) {
    m.opts.default_upload_slots = config.upload_slots;
  }
  m.blocked_hosts = config.blocked_hosts;
  m.blocklist = config.blocklist;
  m.cluster_config_version = config.version;
  std::string blocked;
  for (const std::string& h : m.blocked_hosts) {
    blocked += (blocked.empty() ? "" : ",") + h;
  }
  spdlog::info(
      "applied cluster config version={} candidate_parent_limit={} filter_parent_limit={} "
      "back_to_source_count={} upload_slots={} blocked_hosts=[{}] blocklist={}",
      config.version, m.opts.candidate_parent_limit, m.opts.filter_parent_limit,
      m.opts.back_to_source_count, m.opts.default_upload_slots, blocked,
      m.blocklist && !m.blocklist->empty() ? "set" : "none");
  if (m.metrics != nullptr) {
    m.metrics->SetClusterConfig(config.version, m.opts.candidate_parent_limit);
  }
  return true;
}

uint64_t SchedulerState::cluster_config_version() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->cluster_config_version;
}

StatusOr<api::AnnounceHostResponse> SchedulerState::AnnounceHost(
    const api::AnnounceHostRequest& req, net::Family reached_over) {
  api::Host info = req.host();
  if (info.ip().empty()) {
    return InvalidArgument("host ip is required");
  }
  DF_ASSIGN_OR_RETURN(HostId id, HostId::Parse(info.id()));
  DF_ASSIGN_OR_RETURN(std::vector<std::string> ips, HostAddresses(info, reached_over));
  info.set_ip(ips.front());
  info.clear_ips();
  for (std::string& ip : ips) {
    info.add_ips(std::move(ip));
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->hosts.size() >= impl_->opts.max_hosts && impl_->hosts.count(id) == 0) {
    return ResourceExhausted("scheduler full: " + std::to_string(impl_->opts.max_hosts) +
                             " hosts (scheduler.maxHosts)");
  }
  auto [it, inserted] = impl_->hosts.try_emplace(id);
  HostEntry& h = it->second;
  h.id = id;
  if (inserted) {
    spdlog::info("host announced id={} ips={} type={}", info.id(), fmt::join(info.ips(), ","),
                 info.type() == api::HOST_TYPE_SEED ? "seed" : "normal");
  }
  h.info = std::move(info);
  h.reached_over = reached_over;
  h.load = req.load();
  h.last_announce = impl_->clock->Now();
  if (h.info.type() == api::HOST_TYPE_SEED) {
    impl_->seed_ring.Add(h.info.id());
  } else {
    impl_->seed_ring.Remove(h.info.id());
  }
  impl_->UpdateGauges();
  api::AnnounceHostResponse resp;
  auto interval = std::max<int64_t>(1000, impl_->opts.host_ttl.count() / 4);
  resp.set_announce_interval_ms(static_cast<uint32_t>(std::min<int64_t>(interval, 60000)));
  return resp;
}

Status SchedulerState::LeaveHost(const HostId& host_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->RemoveHost(host_id);
  impl_->UpdateGauges();
  return Status::Ok();
}

StatusOr<api::RegisterPeerResponse> SchedulerState::RegisterPeer(
    const api::RegisterPeerRequest& req, uint64_t* candidates) {
  // A task ID names its content: a spec that does not hash to its ID (another URL under a
  // victim's ID) is refused before it can reach a seed or other peers. Outside the lock.
  DF_RETURN_IF_ERROR(rpc::VerifyTaskSpec(req.task()));
  std::optional<PendingTrigger> pending;
  StatusOr<api::RegisterPeerResponse> resp = InvalidArgument("unset");
  const auto start = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    const uint64_t examined = impl_->candidates_examined;
    resp = impl_->Register(req, &pending);
    if (candidates != nullptr) {
      *candidates = impl_->candidates_examined - examined;
    }
    if (resp.ok() && impl_->metrics != nullptr) {
      impl_->metrics->CountRegister(resp->action());
      impl_->metrics->ObserveSchedule(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    impl_->UpdateGauges();
  }
  if (pending) {
    spdlog::info("trigger seed task={} peer={} host={}", pending->spec.task_id(), pending->peer_id,
                 pending->host.id());
    impl_->trigger->Trigger(pending->host, pending->peer_id.str(), pending->spec,
                            [this, task_id = TaskId(pending->spec.task_id()),
                             peer_id = pending->peer_id, host_id = HostId(pending->host.id())](
                                Status s) { OnSeedTriggerDone(task_id, peer_id, host_id, s); });
  }
  return resp;
}

void SchedulerState::OnSeedTriggerDone(const TaskId& task_id, const PeerId& peer_id,
                                       const HostId& host_id, const Status& status) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->metrics != nullptr) {
    impl_->metrics->CountSeedTrigger(status.ok());
  }
  if (status.ok()) {
    return;
  }
  spdlog::warn("seed trigger failed task={} peer={} host={} error={}", task_id, peer_id, host_id,
               status.ToString());
  auto p = impl_->peers.find(peer_id);
  if (p != impl_->peers.end()) {
    impl_->FailPeer(p->second);
  }
  auto t = impl_->tasks.find(task_id);
  if (t != impl_->tasks.end()) {
    t->second.failed_seed_hosts.insert(host_id);
    if (t->second.seed_peer_id == peer_id) {
      t->second.seed_peer_id.clear();
    }
  }
}

namespace {

// Adds `bytes` from neighbour `from` to p's inbound edges (a new edge while there is room).
void RecordInbound(PeerEntry& p, const PeerId& from, uint64_t bytes, uint32_t interval_ms) {
  const size_t from_hash = std::hash<PeerId>()(from);
  for (InEdge& e : p.inbound) {
    if (e.from_hash == from_hash) {
      e.total += bytes;
      e.last += bytes;
      return;
    }
  }
  if (p.inbound.size() < kMaxInEdges) {
    p.inbound.push_back({from_hash, bytes, bytes, interval_ms});
  }
}

}  // namespace

Status SchedulerState::ReportPeer(const api::ReportPeerRequest& req) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->peers.find(PeerId(req.peer_id()));
  if (it == impl_->peers.end()) {
    return NotFound("peer " + req.peer_id() + " is not registered");
  }
  PeerEntry& p = it->second;
  if ((!req.task_id().empty() && req.task_id() != p.task_id.str()) ||
      (!req.host_id().empty() && req.host_id() != p.host_id.str())) {
    return InvalidArgument("peer " + p.id.str() + " belongs to another task or host");
  }
  const TimePoint now = impl_->clock->Now();
  // The time this report covers: since the last one, or since the peer registered.
  const TimePoint since = p.last_report != TimePoint{} ? p.last_report : p.last_active;
  const auto interval_ms = static_cast<uint32_t>(std::clamp<int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count(), 1, 3600000));
  p.last_report = now;
  p.last_active = now;
  p.task->last_active = now;
  p.registered = true;
  p.finished_pieces = req.finished_pieces();
  p.total_pieces = req.total_pieces();
  if (req.back_to_source()) {
    p.back_to_source = true;
  }
  TaskEntry& task = *p.task;
  if (req.content_length() >= 0) {
    task.content_length = req.content_length();
  }
  if (req.piece_length() > 0) {
    task.piece_length = req.piece_length();
  }
  if (req.total_pieces() > 0) {
    task.total_pieces = req.total_pieces();
  }
  for (InEdge& e : p.inbound) {
    e.last = 0;
    e.interval_ms = interval_ms;
  }
  for (const api::NeighbourStat& s : req.neighbours()) {
    if (s.bytes() > 0) {
      RecordInbound(p, PeerId(s.peer_id()), s.bytes(), interval_ms);
    }
    auto from = impl_->peers.find(PeerId(s.peer_id()));
    if (from != impl_->peers.end()) {
      HostEntry& h = *from->second.host;
      if (s.bytes() > 0 && s.busy_ms() > 0) {
        double sample = static_cast<double>(s.bytes()) * 1000.0 / static_cast<double>(s.busy_ms());
        double& ewma = h.throughput_bps;
        ewma = ewma > 0 ? kThroughputAlpha * sample + (1 - kThroughputAlpha) * ewma : sample;
      }
      h.upload_failures += s.failures();
    }
  }
  switch (req.state()) {
    case api::PEER_STATE_SUCCEEDED:
      if (p.phase != Phase::kSucceeded) {
        p.succeeded_at = p.last_active;
      }
      p.phase = Phase::kSucceeded;
      p.finished_pieces = std::max(p.finished_pieces, p.total_pieces);
      break;
    case api::PEER_STATE_FAILED:
      spdlog::info("peer failed peer={} task={} error={}", p.id, p.task_id, req.error());
      impl_->FailPeer(p);
      break;
    default:
      p.phase = Phase::kRunning;
      break;
  }
  impl_->Recount(p);
  return Status::Ok();
}

Status SchedulerState::LeavePeer(const PeerId& peer_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->RemovePeer(peer_id);
  impl_->UpdateGauges();
  return Status::Ok();
}

uint64_t SchedulerState::candidates_examined() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->candidates_examined;
}

size_t SchedulerState::task_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->tasks.size();
}

}  // namespace df::scheduler
