// Read-only views of the state: one peer, one task and its swarm (StatTask, InspectTask), the
// recently active tasks (ListTasks), a host's name.
#include <algorithm>

#include "scheduler/state_impl.h"

namespace df::scheduler {

namespace {
constexpr int kMaxListedPeers = 1000;
// A peer whose last report is older than this shows no rate (reports come every few seconds).
constexpr auto kLiveReport = std::chrono::seconds(10);

std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

int64_t MsSince(TimePoint now, TimePoint then) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count();
}

void FillPeer(const PeerEntry& p, const TaskEntry& t, api::TaskPeer* out) {
  out->set_peer_id(p.id.str());
  out->set_host_id(p.host_id.str());
  out->set_hostname(p.host->info.hostname());
  out->set_ip(p.host->info.ip());
  out->set_phase(PhaseName(p.phase));
  out->set_finished_pieces(p.finished_pieces);
  out->set_total_pieces(p.total_pieces);
  out->set_seed(p.id == t.seed_peer_id);
  out->set_back_to_source(p.back_to_source);
}
}  // namespace

std::optional<api::InspectTaskResponse> SchedulerState::InspectTask(const TaskId& task_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tasks.find(task_id);
  if (it == impl_->tasks.end()) {
    return std::nullopt;
  }
  const TaskEntry& t = it->second;
  const TimePoint now = impl_->clock->Now();
  api::InspectTaskResponse r;
  r.set_known(true);
  r.set_task_id(task_id.str());
  r.set_url(WithoutQuery(t.spec.url()));
  r.set_content_length(t.content_length);
  r.set_piece_length(t.piece_length);
  r.set_total_pieces(t.total_pieces);
  std::unordered_map<size_t, const PeerEntry*> by_hash;  // edges name neighbours by hash
  by_hash.reserve(t.members.size());
  for (const PeerEntry* p : t.members) {
    by_hash.emplace(std::hash<PeerId>()(p->id), p);
  }
  for (const PeerEntry* p : t.members) {
    if (r.peers_size() >= kMaxListedPeers) {
      break;
    }
    api::InspectedPeer* out = r.add_peers();
    FillPeer(*p, t, out->mutable_peer());
    uint64_t from_peers = 0;
    // Rates are those of the last report while the peer is still downloading and reporting.
    const bool live = p->phase == Phase::kRunning && p->last_report != TimePoint{} &&
                      now - p->last_report < kLiveReport;
    for (const InEdge& e : p->inbound) {
      api::PeerEdge* edge = out->add_inbound();
      auto from = by_hash.find(e.from_hash);  // empty: the neighbour has left the task
      edge->set_from_peer_id(from == by_hash.end() ? "" : from->second->id.str());
      edge->set_bytes_total(e.total);
      edge->set_rate_bps(live && e.interval_ms > 0 ? e.last * 1000 / e.interval_ms : 0);
      from_peers += e.total;
    }
    out->set_bytes_from_peers(from_peers);
    out->set_last_report_ms_ago(p->last_report == TimePoint{} ? -1 : MsSince(now, p->last_report));
  }
  return r;
}

api::ListTasksResponse SchedulerState::ListTasks(uint32_t limit) const {
  limit = limit == 0 ? 100 : std::min<uint32_t>(limit, 1000);
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<const std::pair<const TaskId, TaskEntry>*> all;
  all.reserve(impl_->tasks.size());
  for (const auto& entry : impl_->tasks) {
    all.push_back(&entry);
  }
  const size_t n = std::min<size_t>(limit, all.size());
  std::partial_sort(
      all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
      [](const auto* a, const auto* b) { return a->second.last_active > b->second.last_active; });
  const TimePoint now = impl_->clock->Now();
  api::ListTasksResponse r;
  for (size_t i = 0; i < n; ++i) {
    const auto& [id, t] = *all[i];
    api::TaskSummary* out = r.add_tasks();
    out->set_task_id(id.str());
    out->set_url(WithoutQuery(t.spec.url()));
    out->set_content_length(t.content_length);
    out->set_peers(static_cast<uint32_t>(t.members.size()));
    uint32_t succeeded = 0;
    uint32_t running = 0;
    for (const PeerEntry* p : t.members) {
      succeeded += p->phase == Phase::kSucceeded ? 1 : 0;
      running += p->phase == Phase::kRunning ? 1 : 0;
    }
    out->set_succeeded(succeeded);
    out->set_running(running);
    out->set_last_active_ms_ago(t.last_active == TimePoint{} ? -1 : MsSince(now, t.last_active));
  }
  return r;
}

std::optional<api::StatTaskResponse> SchedulerState::StatTask(const TaskId& task_id,
                                                              bool with_peers) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tasks.find(task_id);
  if (it == impl_->tasks.end()) {
    return std::nullopt;
  }
  const TaskEntry& t = it->second;
  api::StatTaskResponse r;
  r.set_known(true);
  r.set_url(t.spec.url());
  r.set_content_length(t.content_length);
  r.set_total_pieces(t.total_pieces);
  if (!with_peers) {
    return r;
  }
  for (const PeerEntry* p : t.members) {
    if (r.peers_size() >= kMaxListedPeers) {
      break;
    }
    FillPeer(*p, t, r.add_peers());
  }
  return r;
}

std::optional<PeerInfo> SchedulerState::GetPeer(const PeerId& peer_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->peers.find(peer_id);
  if (it == impl_->peers.end()) {
    return std::nullopt;
  }
  const PeerEntry& p = it->second;
  PeerInfo info;
  info.id = p.id;
  info.host_id = p.host_id;
  info.task_id = p.task_id;
  info.phase = PhaseName(p.phase);
  info.is_seed = p.is_seed;
  info.back_to_source = p.back_to_source;
  return info;
}

std::optional<std::string> SchedulerState::TaskUrl(const TaskId& task_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tasks.find(task_id);
  if (it == impl_->tasks.end()) {
    return std::nullopt;
  }
  return it->second.spec.url();
}

std::optional<std::string> SchedulerState::HostnameOf(const HostId& host_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->hosts.find(host_id);
  if (it == impl_->hosts.end()) {
    return std::nullopt;
  }
  return it->second.info.hostname();
}

std::optional<api::Host> SchedulerState::HostInfo(const HostId& host_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->hosts.find(host_id);
  if (it == impl_->hosts.end()) {
    return std::nullopt;
  }
  return it->second.info;
}

std::vector<api::Host> SchedulerState::UsableHosts() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<api::Host> out;
  for (const auto& [id, h] : impl_->hosts) {
    if (!impl_->IsBlocked(h)) {
      out.push_back(h.info);
    }
  }
  return out;
}

std::vector<HostId> SchedulerState::HostsOfTask(const TaskId& task_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<HostId> out;
  auto it = impl_->tasks.find(task_id);
  if (it == impl_->tasks.end()) {
    return out;
  }
  for (const PeerEntry* p : it->second.members) {
    if (p->host != nullptr) {
      out.push_back(p->host->id);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

PeerId SchedulerState::SeedPeerOf(const TaskId& task_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tasks.find(task_id);
  return it == impl_->tasks.end() ? PeerId() : it->second.seed_peer_id;
}

}  // namespace df::scheduler
