// Garbage collection of the scheduler's state: expired hosts, failed and idle peers, succeeded
// peers beyond the per-task cap, empty tasks.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "scheduler/state_impl.h"

namespace df::scheduler {

GcResult SchedulerState::RunGc(Clock::TimePoint now) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  GcResult r;
  std::vector<HostId> expired;
  for (const auto& [id, h] : m.hosts) {
    if (now - h.last_announce > m.opts.host_ttl) {
      expired.push_back(id);
    }
  }
  size_t peers_before = m.peers.size();
  for (const HostId& id : expired) {
    spdlog::info("host expired id={}", id);
    m.RemoveHost(id);
  }
  r.hosts_removed = expired.size();
  std::vector<PeerId> ids;
  for (const auto& [id, p] : m.peers) {
    bool idle = now - p.last_active > m.opts.peer_ttl;
    if (p.phase == Phase::kFailed || (p.phase != Phase::kSucceeded && idle)) {
      ids.push_back(id);
    }
  }
  for (const PeerId& id : ids) {
    m.RemovePeer(id);
  }
  // Cap succeeded peers per task: evict the oldest first.
  for (auto& [task_id, t] : m.tasks) {
    std::vector<const PeerEntry*> done;
    for (const PeerEntry* p : t.members) {
      if (p->phase == Phase::kSucceeded) {
        done.push_back(p);
      }
    }
    if (done.size() <= m.opts.max_succeeded_peers_per_task) {
      continue;
    }
    std::sort(done.begin(), done.end(), [](const PeerEntry* a, const PeerEntry* b) {
      return a->succeeded_at < b->succeeded_at;
    });
    size_t excess = done.size() - m.opts.max_succeeded_peers_per_task;
    std::vector<PeerId> evict;
    for (size_t i = 0; i < excess; ++i) {
      evict.push_back(done[i]->id);
    }
    for (const PeerId& id : evict) {
      m.RemovePeer(id);
    }
  }
  r.peers_removed = peers_before - m.peers.size();
  for (auto it = m.tasks.begin(); it != m.tasks.end();) {
    if (it->second.members.empty()) {
      it = m.tasks.erase(it);
      ++r.tasks_removed;
    } else {
      ++it;
    }
  }
  m.UpdateGauges();
  return r;
}

size_t SchedulerState::host_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->hosts.size();
}

size_t SchedulerState::peer_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->peers.size();
}

}  // namespace df::scheduler
