// RegisterPeer: origin protection through a hash-selected seed, neighbour selection and the
// back-to-source decision. See the contract in dragonfly/scheduler/state.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "dragonfly/common/task_id.h"
#include "dragonfly/scheduler/evaluator.h"
#include "scheduler/state_impl.h"

namespace df::scheduler {
namespace {

using Impl = SchedulerState::Impl;

constexpr uint32_t kSeedWaitRetryMs = 10;
// How long peers wait for a triggered seed peer to register before meshing without it (its
// host may already be downloading the task as a normal peer, e.g. for a preheat).
constexpr std::chrono::milliseconds kSeedWait{2000};

api::RegisterPeerResponse BackToSource(PeerEntry& peer, const std::string& reason) {
  peer.back_to_source = true;
  peer.phase = Phase::kRunning;
  api::RegisterPeerResponse r;
  r.set_action(api::ACTION_BACK_TO_SOURCE);
  r.set_reason(reason);
  return r;
}

api::RegisterPeerResponse Retry(const SchedulerOptions& opts, const std::string& reason) {
  api::RegisterPeerResponse r;
  r.set_action(api::ACTION_RETRY);
  r.set_retry_after_ms(static_cast<uint32_t>(opts.retry_interval.count()));
  r.set_reason(reason);
  return r;
}

// A blocked host is never a neighbour, so it is no use as a seed either.
bool IsUsableSeedHost(const Impl& m, const TaskEntry& task, const std::string& id) {
  const HostId host_id(id);
  if (task.failed_seed_hosts.count(host_id) > 0) {
    return false;
  }
  auto h = m.hosts.find(host_id);
  return h != m.hosts.end() && !m.IsBlocked(h->second);
}

struct Scored {
  double score;
  PeerEntry* peer;
};

// At most `k` distinct members of the task drawn at random (all of them when there are no more),
// by Robert Floyd's algorithm: k draws whatever the task's size.
std::vector<PeerEntry*> SampleMembers(Impl& m, const TaskEntry& task, size_t k) {
  const size_t n = task.members.size();
  if (n <= k) {
    return task.members;
  }
  std::vector<size_t> picked;
  picked.reserve(k);
  for (size_t j = n - k; j < n; ++j) {
    size_t t = std::uniform_int_distribution<size_t>(0, j)(m.rng);
    bool seen = std::find(picked.begin(), picked.end(), t) != picked.end();
    picked.push_back(seen ? j : t);
  }
  std::vector<PeerEntry*> out;
  out.reserve(k);
  for (size_t i : picked) {
    out.push_back(task.members[i]);
  }
  return out;
}

// Up to candidate_parent_limit neighbours for `peer` among filter_parent_limit peers of the task
// drawn at random: registered peers (running ones included: they trade what they have) on other
// hosts, not blocked, failed or already connected. The task's seed peer (looked up directly)
// comes first while no other peer has the whole task; half of the rest are the best scored (free
// upload capacity, measured throughput, progress, IDC, location), the other half drawn at random
// so the mesh stays connected and of small diameter.
std::vector<PeerEntry*> FindNeighbours(Impl& m, const TaskEntry& task, const PeerEntry& peer,
                                       const HostEntry& peer_host,
                                       const std::vector<PeerId>& excluded) {
  const bool seed_sole_source = task.finished == 0;
  double best_throughput = 0;
  auto usable = [&](const PeerEntry& p) -> const HostEntry* {
    ++m.candidates_examined;
    if (&p == &peer || p.host == peer.host || !p.registered || p.phase == Phase::kFailed ||
        std::binary_search(excluded.begin(), excluded.end(), p.id)) {
      return nullptr;
    }
    const HostEntry* h = p.host;
    if (m.IsBlocked(*h)) {
      return nullptr;
    }
    best_throughput = std::max(best_throughput, h->throughput_bps);
    return h;
  };
  PeerEntry* seed = nullptr;
  if (auto s = m.peers.find(task.seed_peer_id); s != m.peers.end() && usable(s->second)) {
    seed = &s->second;
  }
  std::vector<std::pair<PeerEntry*, const HostEntry*>> eligible;
  for (PeerEntry* p : SampleMembers(m, task, m.opts.filter_parent_limit)) {
    if (p == seed) {
      continue;
    }
    if (const HostEntry* h = usable(*p)) {
      eligible.emplace_back(p, h);
    }
  }
  const size_t limit = m.opts.candidate_parent_limit;
  std::vector<PeerEntry*> out;
  if (seed != nullptr && seed_sole_source) {
    out.push_back(seed);
  } else if (seed != nullptr) {
    eligible.emplace_back(seed, seed->host);
  }
  std::vector<Scored> scored;
  scored.reserve(eligible.size());
  for (const auto& [p, h] : eligible) {
    EvalInput in;
    in.upload_slots = m.SlotsOf(*h);
    in.active_uploads = h->load.active_uploads();
    in.throughput_bps = h->throughput_bps;
    in.best_throughput_bps = best_throughput;
    if (p->phase == Phase::kSucceeded) {
      in.progress = 1;
    } else if (p->total_pieces > 0) {
      in.progress = static_cast<double>(p->finished_pieces) / p->total_pieces;
    }
    in.parent_is_seed = h->info.type() == api::HOST_TYPE_SEED;
    in.seed_is_sole_source = seed_sole_source;
    in.parent_idc = h->info.idc();
    in.child_idc = peer_host.info.idc();
    in.parent_location = h->info.location();
    in.child_location = peer_host.info.location();
    scored.push_back({Evaluate(in), p});
  }
  size_t best = out.size() + (limit > out.size() ? (limit - out.size() + 1) / 2 : 0);
  const size_t take = std::min(std::min(best, limit) - std::min(out.size(), limit), scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(take),
                    scored.end(), [](const Scored& a, const Scored& b) {
                      return a.score != b.score ? a.score > b.score : a.peer->id < b.peer->id;
                    });
  size_t i = 0;
  for (; i < take; ++i) {
    out.push_back(scored[i].peer);
  }
  // The rest at random among the remaining candidates.
  std::shuffle(scored.begin() + static_cast<std::ptrdiff_t>(i), scored.end(), m.rng);
  for (; i < scored.size() && out.size() < limit; ++i) {
    out.push_back(scored[i].peer);
  }
  return out;
}

}  // namespace

void Impl::TakeProgress(const api::RegisterPeerRequest& req, TaskEntry& task, PeerEntry& peer) {
  if (req.back_to_source()) {
    peer.back_to_source = true;
  }
  if (req.total_pieces() == 0 || req.piece_length() == 0 || req.content_length() < 0) {
    return;
  }
  if (task.total_pieces == 0) {  // the first to know the geometry tells it
    task.content_length = req.content_length();
    task.piece_length = req.piece_length();
    task.total_pieces = req.total_pieces();
  }
  if (req.total_pieces() != task.total_pieces) {
    return;  // another geometry than the task's: its progress means nothing here
  }
  peer.total_pieces = req.total_pieces();
  peer.finished_pieces = std::min(req.finished_pieces(), req.total_pieces());
  if (peer.finished_pieces > 0 && peer.phase == Phase::kPending) {
    peer.phase = Phase::kRunning;  // it trades what it has from now on
  }
}

void Impl::AdoptSeed(TaskEntry& task, PeerEntry& peer) {
  auto placeholder = peers.find(task.seed_peer_id);
  const bool triggered_here = placeholder != peers.end() && !placeholder->second.registered &&
                              placeholder->second.host_id == peer.host_id;
  if (triggered_here) {
    // The seed host already ran a session for the task (the scheduler that triggered it died,
    // this one triggered it again): that session, not a second one, is the task's seed.
    RemovePeer(placeholder->first);
  }
  if (task.seed_peer_id.empty()) {
    task.seed_peer_id = peer.id;
    peer.is_seed = true;
    spdlog::info("seed peer registered again task={} peer={}", peer.task_id, peer.id);
  }
}

StatusOr<std::pair<PeerEntry*, bool>> Impl::PeerOf(const PeerId& id, HostEntry& host,
                                                   TaskEntry& task, const TaskId& task_id) {
  auto [it, added] = peers.try_emplace(id);
  PeerEntry& peer = it->second;
  if (added) {
    peer.id = id;
    peer.host_id = host.id;
    peer.host = &host;
    peer.task_id = task_id;
    AddMember(task, peer);
    host.peers.insert(peer.id);
  } else if (peer.host != &host || peer.task != &task) {
    return InvalidArgument("peer " + id.str() + " is registered with another host or task");
  }
  return std::make_pair(&peer, added);
}

Status Impl::CheckRoom(const HostEntry& host, const TaskId& task_id) const {
  auto known = tasks.find(task_id);
  if (known == tasks.end() && tasks.size() >= opts.max_tasks) {
    return ResourceExhausted("scheduler full: " + std::to_string(opts.max_tasks) +
                             " tasks (scheduler.maxTasks)");
  }
  if (known != tasks.end() && known->second.members.size() >= opts.max_peers_per_task) {
    return ResourceExhausted("task " + task_id.str() + " has " +
                             std::to_string(opts.max_peers_per_task) +
                             " peers (scheduler.maxPeersPerTask)");
  }
  if (host.peers.size() >= opts.max_peers_per_host) {
    return ResourceExhausted("host " + host.info.id() + " has " +
                             std::to_string(opts.max_peers_per_host) +
                             " peers registered (scheduler.maxPeersPerHost)");
  }
  return Status::Ok();
}

StatusOr<api::RegisterPeerResponse> Impl::Register(const api::RegisterPeerRequest& req,
                                                   std::optional<PendingTrigger>* trigger_out) {
  auto host_it = hosts.find(HostId(req.host_id()));
  if (host_it == hosts.end()) {
    return FailedPrecondition("host not announced: " + req.host_id());
  }
  if (req.task().task_id().empty()) {
    return InvalidArgument("task.task_id is required");
  }
  DF_ASSIGN_OR_RETURN(const PeerId peer_id, PeerId::Parse(req.peer_id()));
  HostEntry& host = host_it->second;
  if (blocklist) {
    const api::TaskSpec& t = req.task();
    if (auto why = blocklist->Blocks(host.info.type() == api::HOST_TYPE_SEED, t.url(),
                                     t.application(), t.tag())) {
      return PermissionDenied("task blocked by the cluster's blocklist: " + *why);
    }
  }
  const TaskId task_id(req.task().task_id());  // checked against its spec (VerifyTaskSpec)
  if (peers.count(peer_id) == 0) {             // a new peer: within the bounds?
    DF_RETURN_IF_ERROR(CheckRoom(host, task_id));
  }
  if (auto known = tasks.find(task_id);
      known != tasks.end() &&
      IsPersistentCacheUrl(known->second.spec.url()) != IsPersistentCacheUrl(req.task().url())) {
    // One ID, one kind of task: a persistent cache task cannot take over a URL's, nor the
    // other way round (its peers would get no origin, or the wrong content).
    return PermissionDenied("task " + task_id.str() + " is known here as " +
                            (IsPersistentCacheUrl(known->second.spec.url())
                                 ? "a persistent cache task"
                                 : "the task of a URL"));
  }
  auto [task_it, new_task] = tasks.try_emplace(task_id);
  TaskEntry& task = task_it->second;
  if (new_task) {
    task.spec = req.task();
  }
  DF_ASSIGN_OR_RETURN(auto found, PeerOf(peer_id, host, task, task_id));
  PeerEntry& peer = *found.first;
  const bool new_peer = found.second;
  peer.registered = true;
  peer.last_active = clock->Now();
  task.last_active = peer.last_active;
  if (peer.phase != Phase::kRunning) {
    peer.phase = Phase::kPending;
  }
  // Whatever is decided below, the task's counts follow this peer's new state.
  struct RecountOnReturn {
    Impl* m;
    PeerEntry* p;
    ~RecountOnReturn() { m->Recount(*p); }
  } recount{this, &peer};
  TakeProgress(req, task, peer);
  if (new_peer && req.seed() && host.info.type() == api::HOST_TYPE_SEED) {
    AdoptSeed(task, peer);
  }

  // A persistent cache task (dfcache://) has no origin: its holders are its only sources.
  const bool no_origin = IsPersistentCacheUrl(task.spec.url());
  if (peer.id == task.seed_peer_id && !no_origin) {
    return BackToSource(peer, "seed peer of the task");
  }
  // Origin protection: pin the task to one seed host. (The counts include this peer as it was
  // before this call.)
  const bool any_source = task.sources > (peer.counted_source ? 1u : 0u);
  if (task.seed_peer_id.empty() && !any_source && !no_origin) {
    std::string seed_host = seed_ring.Pick(
        task_id.str(), [&](const std::string& id) { return IsUsableSeedHost(*this, task, id); });
    if (seed_host == host.info.id()) {
      task.seed_peer_id = peer.id;
      peer.is_seed = true;
      return BackToSource(peer, "this host is the task's seed host");
    }
    if (!seed_host.empty()) {
      HostEntry& seed = hosts.at(HostId(seed_host));
      PeerEntry sp;
      sp.id = PeerId(MakePeerId(seed.info.ip(), seed.info.hostname(), true));
      sp.host_id = seed.id;
      sp.host = &seed;
      sp.task_id = task_id;
      sp.phase = Phase::kTriggered;
      sp.is_seed = true;
      sp.last_active = peer.last_active;
      task.seed_peer_id = sp.id;
      seed.peers.insert(sp.id);
      *trigger_out = PendingTrigger{seed.info, sp.id, task.spec};
      PeerEntry& added = peers.emplace(sp.id, std::move(sp)).first->second;
      AddMember(task, added);
      Recount(added);
    }
  }

  // A seed peer triggered a moment ago registers within milliseconds: the first neighbour set
  // of the task's peers should include it, so they wait for it rather than mesh with each other
  // and nothing to trade.
  if (auto s = peers.find(task.seed_peer_id);
      s != peers.end() && s->second.phase == Phase::kTriggered && !s->second.registered &&
      clock->Now() - s->second.last_active < kSeedWait) {
    api::RegisterPeerResponse r = Retry(opts, "waiting for the seed peer to start");
    r.set_retry_after_ms(std::min<uint32_t>(r.retry_after_ms(), kSeedWaitRetryMs));
    return r;
  }
  std::vector<PeerId> excluded;  // sorted, for binary search
  excluded.reserve(static_cast<size_t>(req.blocked_neighbours_size() + req.connected_size()));
  for (const auto* list : {&req.blocked_neighbours(), &req.connected()}) {
    for (const std::string& id : *list) {
      excluded.emplace_back(id);
    }
  }
  std::sort(excluded.begin(), excluded.end());
  std::vector<PeerEntry*> neighbours = FindNeighbours(*this, task, peer, host, excluded);
  if (!neighbours.empty()) {
    api::RegisterPeerResponse r;
    r.set_action(api::ACTION_NEIGHBOURS);
    for (PeerEntry* p : neighbours) {
      const HostEntry& h = *p->host;
      api::Neighbour* out = r.add_neighbours();
      out->set_peer_id(p->id.str());
      out->set_host_id(h.info.id());
      if (h.info.ips_size() == 1) {  // the usual case: nothing to order
        out->set_ip(h.info.ip());
        out->add_ips(h.info.ip());
      } else {
        std::vector<std::string> ips(h.info.ips().begin(), h.info.ips().end());
        OrderByFamily(&ips, host.reached_over);
        out->set_ip(ips.front());
        for (std::string& ip : ips) {
          out->add_ips(std::move(ip));
        }
      }
      out->set_piece_port(h.info.piece_port());
      out->set_host_type(h.info.type());
    }
    return r;
  }

  // No candidate parent.
  bool seed_available = !task.seed_peer_id.empty();
  if (!seed_available) {
    seed_available =
        !seed_ring
             .Pick(task_id.str(),
                   [&](const std::string& id) { return IsUsableSeedHost(*this, task, id); })
             .empty();
  }
  if (no_origin) {
    if (!any_source) {
      api::RegisterPeerResponse r;
      r.set_action(api::ACTION_FAIL);
      r.set_reason("no host holds persistent cache task " + task_id.str() +
                   " (expired, deleted, or its holders are gone)");
      return r;
    }
    return Retry(opts, "the task's holders are busy");
  }
  const uint32_t back_to_source = task.back_to_source - (peer.counted_back_to_source ? 1u : 0u);
  bool nothing_feeds = !any_source && !seed_available;
  if (nothing_feeds || req.need_back_to_source()) {
    if (back_to_source < opts.back_to_source_count) {
      return BackToSource(
          peer, nothing_feeds ? "no peer or seed has the task" : "back to source as requested");
    }
    return Retry(opts, "back-to-source limit of the task reached");
  }
  auto seed = peers.find(task.seed_peer_id);
  if (seed != peers.end() && seed->second.phase == Phase::kTriggered) {
    // The seed peer was just triggered and registers within milliseconds: ask again soon.
    api::RegisterPeerResponse r = Retry(opts, "waiting for the seed peer to start");
    r.set_retry_after_ms(std::min<uint32_t>(r.retry_after_ms(), kSeedWaitRetryMs));
    return r;
  }
  if (req.connected_size() > 0) {
    return Retry(opts, "no other neighbour available");
  }
  return Retry(opts, "no neighbour available");
}

}  // namespace df::scheduler
