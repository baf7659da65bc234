#include "daemon/stored_tasks.h"

#include <spdlog/spdlog.h>

#include "dragonfly/common/digest.h"
#include "dragonfly/rpc/task_spec.h"

namespace df::daemon {

std::string StoredPeerId(const std::string& ip, const std::string& hostname, bool seed,
                         const std::string& task_id) {
  return ip + "-" + hostname + "-" + Sha256Hex(task_id.data(), task_id.size()).substr(0, 32) +
         (seed ? "-seed" : "");
}

StoredTaskAnnouncer::StoredTaskAnnouncer(const storage::TaskStore& store, SchedulerApi& scheduler,
                                         Options options)
    : store_(store), scheduler_(scheduler), opts_(std::move(options)) {}

void StoredTaskAnnouncer::Known(const TaskId& task_id) {
  std::string owner = opts_.owner(task_id);
  std::lock_guard lock(mu_);
  known_by_[task_id] = std::move(owner);
}

StoredTasksResult StoredTaskAnnouncer::Sweep(const std::function<bool()>& stop) {
  StoredTasksResult r;
  std::unordered_map<TaskId, std::string> known_by;
  {
    std::lock_guard lock(mu_);
    known_by.swap(known_by_);
  }
  std::unordered_map<TaskId, std::string> next;  // of the tasks stored now
  for (const storage::TaskStat& t : store_.List()) {
    if (!t.done || t.url.empty()) {
      continue;
    }
    const TaskId id(t.task_id);
    auto seen = known_by.find(id);
    const bool known = seen != known_by.end() && seen->second == opts_.owner(id);
    const bool its_session_tells = opts_.downloading && opts_.downloading(id);
    if (known || its_session_tells || stop()) {
      if (seen != known_by.end()) {
        next[id] = seen->second;
      }
      continue;
    }
    sched::AnnounceTaskRequest req;
    req.set_host_id(opts_.host_id);
    req.set_peer_id(StoredPeerId(opts_.ip, opts_.hostname, opts_.seed, t.task_id));
    req.mutable_task()->set_task_id(t.task_id);
    req.mutable_task()->set_url(t.url);
    req.set_content_length(t.content_length);
    req.set_piece_length(t.piece_length);
    req.set_total_pieces(t.total_pieces);
    if (!rpc::VerifyTaskSpec(req.task()).ok()) {
      ++r.skipped;  // made with a tag, application, filters or piece length: never announceable
      next[id] = opts_.owner(id);
      continue;
    }
    if (Status s = scheduler_.AnnounceTask(req); !s.ok()) {
      spdlog::debug("stored task not announced task={} error=\"{}\"", t.task_id, s.ToString());
      ++r.skipped;  // tried again at the next sweep
      continue;
    }
    // Named after the call: a call that failed over reached the next scheduler.
    next[id] = opts_.owner(id);
    ++r.announced;
  }
  std::lock_guard lock(mu_);
  for (auto& [id, owner] : known_by_) {  // Known() calls made meanwhile are newer
    next[id] = std::move(owner);
  }
  known_by_.swap(next);
  return r;
}

}  // namespace df::daemon
