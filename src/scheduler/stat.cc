// Read-only views of the state: one peer, one task and its swarm (StatTask), a host's name.
#include "scheduler/state_impl.h"

namespace df::scheduler {

namespace {
constexpr int kMaxListedPeers = 1000;
}  // namespace

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
    api::TaskPeer* out = r.add_peers();
    out->set_peer_id(p->id.str());
    out->set_host_id(p->host_id.str());
    out->set_hostname(p->host->info.hostname());
    out->set_ip(p->host->info.ip());
    out->set_phase(PhaseName(p->phase));
    out->set_finished_pieces(p->finished_pieces);
    out->set_total_pieces(p->total_pieces);
    out->set_seed(p->id == t.seed_peer_id);
    out->set_back_to_source(p->back_to_source);
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

PeerId SchedulerState::SeedPeerOf(const TaskId& task_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->tasks.find(task_id);
  return it == impl_->tasks.end() ? PeerId() : it->second.seed_peer_id;
}

}  // namespace df::scheduler
