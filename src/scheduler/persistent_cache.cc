#include "dragonfly/scheduler/persistent_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <vector>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"

namespace df::scheduler {
namespace {

constexpr auto kFailedHostRest = std::chrono::minutes(1);  // not asked again for a while
constexpr int64_t kMaxTtlMs = int64_t{721} * 3600 * 1000;  // dfcache's 720h, and some slack

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsHexDigest(const std::string& d) {
  return d.size() == 7 + 64 && d.rfind("sha256:", 0) == 0 &&
         d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
}

Status CheckTask(const api::PersistentCacheTask& t, uint32_t max_replicas, int64_t now_ms) {
  DF_RETURN_IF_ERROR(TaskId::Parse(t.task_id()).status());
  if (t.content_length() <= 0 || t.piece_length() < kMinPieceLength ||
      t.piece_length() > kMaxPieceLength ||
      t.total_pieces() != PieceCount(t.content_length(), t.piece_length()) ||
      t.total_pieces() > kMaxPieces) {
    return InvalidArgument("persistent cache task " + t.task_id() + ": bad geometry");
  }
  if (!IsHexDigest(t.digest())) {
    return InvalidArgument("persistent cache task " + t.task_id() + ": want a sha256 digest");
  }
  if (t.replicas() == 0 || t.replicas() > max_replicas) {
    return InvalidArgument("persistent cache task " + t.task_id() + ": replicas must be in [1, " +
                           std::to_string(max_replicas) + "]");
  }
  if (t.expires_at_ms() > now_ms + kMaxTtlMs) {
    return InvalidArgument("persistent cache task " + t.task_id() + ": expiry beyond 720h");
  }
  if (t.tag().size() > 1024 || t.application().size() > 1024) {
    return InvalidArgument("persistent cache task " + t.task_id() +
                           ": tag or application too long");
  }
  return Status::Ok();
}

}  // namespace

struct PersistentCacheRegistry::Impl {
  struct Holder {
    PeerId peer;
    Clock::TimePoint last_seen;
  };
  struct Record {
    api::PersistentCacheTask task;
    int64_t created_at_ms = 0;
    std::map<HostId, Holder> holders;
    std::map<HostId, Clock::TimePoint> replicating;  // asked at
    std::map<HostId, Clock::TimePoint> failed;       // failed at
  };
  struct Replication {
    api::Host host;
    std::string peer_id;
    api::PersistentCacheTask task;
  };

  SchedulerState* state;
  ReplicaTrigger* trigger;
  PersistentCacheOptions opts;
  const Clock* clock;
  std::function<int64_t()> now_ms;

  mutable std::mutex mu;
  std::unordered_map<TaskId, Record> tasks;
  std::unordered_map<TaskId, int64_t> deleted;  // -> the deleted task's expiry

  api::StatPersistentCacheTaskResponse StatLocked(const Record& r) const {
    api::StatPersistentCacheTaskResponse out;
    out.set_known(true);
    *out.mutable_task() = r.task;
    out.set_created_at_ms(r.created_at_ms);
    const Clock::TimePoint now = clock->Now();
    for (const auto& [host_id, h] : r.holders) {
      api::PersistentCacheHolder* o = out.add_holders();
      o->set_host_id(host_id.str());
      if (std::optional<api::Host> info = state->HostInfo(host_id)) {
        o->set_hostname(info->hostname());
        o->set_ip(info->ip());
        o->set_seed(info->type() == api::HOST_TYPE_SEED);
      }
      o->set_last_seen_ms_ago(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - h.last_seen).count());
    }
    out.set_replicating(static_cast<uint32_t>(r.replicating.size()));
    out.set_state(r.holders.size() >= r.task.replicas() ? "ready" : "replicating");
    return out;
  }

  void OnReplicated(const TaskId& task_id, const HostId& host_id, const Status& s) {
    if (s.ok()) {
      return;  // the host announces the task once it holds it
    }
    spdlog::warn("persistent cache replication failed task={} host={} error=\"{}\"", task_id,
                 host_id, s.ToString());
    std::lock_guard lock(mu);
    auto it = tasks.find(task_id);
    if (it != tasks.end()) {
      it->second.replicating.erase(host_id);
      it->second.failed[host_id] = clock->Now();
    }
  }
};

PersistentCacheRegistry::PersistentCacheRegistry(SchedulerState* state, ReplicaTrigger* trigger,
                                                 PersistentCacheOptions options, const Clock* clock,
                                                 std::function<int64_t()> now_ms)
    : impl_(std::make_shared<Impl>()) {
  impl_->state = state;
  impl_->trigger = trigger;
  impl_->opts = options;
  impl_->clock = clock != nullptr ? clock : SteadyClock();
  impl_->now_ms = now_ms ? std::move(now_ms) : SystemNowMs;
}

PersistentCacheRegistry::~PersistentCacheRegistry() = default;

StatusOr<api::AnnouncePersistentCacheTaskResponse> PersistentCacheRegistry::Announce(
    const api::AnnouncePersistentCacheTaskRequest& req) {
  Impl& m = *impl_;
  const api::PersistentCacheTask& t = req.task();
  DF_RETURN_IF_ERROR(CheckTask(t, m.opts.max_replicas, m.now_ms()));
  DF_ASSIGN_OR_RETURN(const HostId host_id, HostId::Parse(req.host_id()));
  DF_ASSIGN_OR_RETURN(const PeerId peer_id, PeerId::Parse(req.peer_id()));
  const TaskId task_id(t.task_id());
  api::AnnouncePersistentCacheTaskResponse resp;
  std::lock_guard lock(m.mu);
  if (req.imported()) {
    m.deleted.erase(task_id);  // imported again after a deletion: a new life
  }
  if (m.deleted.count(task_id) > 0 || t.expires_at_ms() <= m.now_ms()) {
    resp.set_deleted(true);  // deleted, or past its expiry: the holder drops it
    return resp;
  }
  auto it = m.tasks.find(task_id);
  if (it != m.tasks.end()) {
    const api::PersistentCacheTask& known = it->second.task;
    if (known.content_length() != t.content_length() || known.piece_length() != t.piece_length() ||
        known.digest() != t.digest()) {
      return InvalidArgument("persistent cache task " + t.task_id() +
                             " is known with other content");
    }
  } else if (m.tasks.size() >= m.opts.max_tasks) {
    return ResourceExhausted("too many persistent cache tasks");
  }
  // The holder is a finished peer of the task: a source for exports and replications.
  api::AnnounceTaskRequest as_peer;
  as_peer.set_host_id(req.host_id());
  as_peer.set_peer_id(req.peer_id());
  as_peer.mutable_task()->set_task_id(t.task_id());
  as_peer.mutable_task()->set_url(PersistentCacheUrl(t.task_id()));
  as_peer.mutable_task()->set_tag(t.tag());
  as_peer.mutable_task()->set_application(t.application());
  as_peer.set_content_length(t.content_length());
  as_peer.set_piece_length(t.piece_length());
  as_peer.set_total_pieces(t.total_pieces());
  DF_RETURN_IF_ERROR(m.state->AnnounceTask(as_peer));  // "host not announced" for a new host
  Impl::Record& r = m.tasks[task_id];
  if (r.created_at_ms == 0) {
    r.task = t;
    r.created_at_ms = m.now_ms();
    spdlog::info("persistent cache task task={} bytes={} replicas={} host={}", task_id,
                 t.content_length(), t.replicas(), host_id);
  } else if (t.expires_at_ms() > r.task.expires_at_ms()) {
    r.task.set_expires_at_ms(t.expires_at_ms());  // imported again: a later expiry
    r.task.set_replicas(t.replicas());
  }
  r.holders[host_id] = {peer_id, m.clock->Now()};
  r.replicating.erase(host_id);
  resp.set_expires_at_ms(r.task.expires_at_ms());
  return resp;
}

api::StatPersistentCacheTaskResponse PersistentCacheRegistry::Stat(const TaskId& task_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->tasks.find(task_id);
  if (it == impl_->tasks.end()) {
    return {};
  }
  return impl_->StatLocked(it->second);
}

StatusOr<api::DeletePersistentCacheTaskResponse> PersistentCacheRegistry::Delete(
    const TaskId& task_id) {
  Impl& m = *impl_;
  std::vector<HostId> hosts = m.state->HostsOfTask(task_id);
  {
    std::lock_guard lock(m.mu);
    auto it = m.tasks.find(task_id);
    if (it == m.tasks.end()) {
      return NotFound("persistent cache task " + task_id.str() +
                      " is not in the cluster (expired, deleted, or never imported)");
    }
    for (const auto& [host_id, h] : it->second.holders) {
      hosts.push_back(host_id);
    }
    m.deleted[task_id] = it->second.task.expires_at_ms();
    m.tasks.erase(it);
  }
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  api::DeletePersistentCacheTaskResponse resp;
  for (const HostId& host_id : hosts) {
    if (std::optional<api::Host> info = m.state->HostInfo(host_id)) {
      resp.set_hosts(resp.hosts() + 1);
      m.trigger->Delete(*info, task_id.str(), [task_id, host_id](Status s) {
        if (!s.ok()) {
          spdlog::warn("persistent cache delete failed task={} host={} error=\"{}\"", task_id,
                       host_id, s.ToString());
        }
      });
    }
  }
  spdlog::info("persistent cache task deleted task={} hosts={}", task_id, resp.hosts());
  return resp;
}

api::ListPersistentCacheTasksResponse PersistentCacheRegistry::List() const {
  std::lock_guard lock(impl_->mu);
  api::ListPersistentCacheTasksResponse out;
  for (const auto& [id, r] : impl_->tasks) {
    *out.add_tasks() = impl_->StatLocked(r);
  }
  std::sort(out.mutable_tasks()->begin(), out.mutable_tasks()->end(),
            [](const auto& a, const auto& b) { return a.created_at_ms() > b.created_at_ms(); });
  return out;
}

void PersistentCacheRegistry::Tick() {
  Impl& m = *impl_;
  const int64_t now_ms = m.now_ms();
  const Clock::TimePoint now = m.clock->Now();
  const std::vector<api::Host> hosts = m.state->UsableHosts();
  std::vector<Impl::Replication> start;
  {
    std::lock_guard lock(m.mu);
    std::erase_if(m.deleted, [&](const auto& d) { return d.second <= now_ms; });
    for (auto it = m.tasks.begin(); it != m.tasks.end();) {
      Impl::Record& r = it->second;
      if (r.task.expires_at_ms() <= now_ms) {
        spdlog::info("persistent cache task expired task={}", it->first);
        it = m.tasks.erase(it);  // its holders' GC deletes their copies at the same time
        continue;
      }
      std::erase_if(r.holders, [&](const auto& h) {
        const bool gone = now - h.second.last_seen > m.opts.holder_ttl;
        if (gone) {  // its host may still be announced (a daemon killed): not asked at once
          spdlog::info("persistent cache holder gone task={} host={}", it->first, h.first);
          r.failed[h.first] = now;
        }
        return gone;
      });
      std::erase_if(r.replicating, [&](const auto& h) {
        if (now - h.second <= m.opts.replicate_timeout) {
          return false;
        }
        r.failed[h.first] = now;
        return true;
      });
      std::erase_if(r.failed, [&](const auto& h) { return now - h.second > kFailedHostRest; });
      const size_t have = r.holders.size() + r.replicating.size();
      if (have < r.task.replicas()) {
        std::vector<const api::Host*> candidates;
        for (const api::Host& h : hosts) {
          const HostId id(h.id());
          if (r.holders.count(id) == 0 && r.replicating.count(id) == 0 && r.failed.count(id) == 0) {
            candidates.push_back(&h);
          }
        }
        // Seed hosts first; then spread over the hosts by the task.
        auto rank = [&](const api::Host* h) {
          return std::make_pair(h->type() != api::HOST_TYPE_SEED,
                                Sha256Hex((it->first.str() + h->id()).data(),
                                          it->first.str().size() + h->id().size()));
        };
        std::sort(candidates.begin(), candidates.end(),
                  [&](const api::Host* a, const api::Host* b) { return rank(a) < rank(b); });
        for (size_t i = 0; i < candidates.size() && have + i < r.task.replicas(); ++i) {
          const api::Host& h = *candidates[i];
          r.replicating[HostId(h.id())] = now;
          start.push_back(
              {h, MakePeerId(h.ip(), h.hostname(), h.type() == api::HOST_TYPE_SEED), r.task});
        }
      }
      ++it;
    }
  }
  for (Impl::Replication& rep : start) {
    spdlog::info("persistent cache replication task={} host={}", rep.task.task_id(), rep.host.id());
    std::weak_ptr<Impl> weak = impl_;
    m.trigger->Replicate(
        rep.host, rep.peer_id, rep.task,
        [weak, task_id = TaskId(rep.task.task_id()), host_id = HostId(rep.host.id())](Status s) {
          if (auto alive = weak.lock()) {
            alive->OnReplicated(task_id, host_id, s);
          }
        });
  }
}

}  // namespace df::scheduler
