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

StoredTasksResult AnnounceStoredTasks(const storage::TaskStore& store, SchedulerApi& scheduler,
                                      const std::string& host_id, const std::string& ip,
                                      const std::string& hostname, bool seed,
                                      const std::function<bool()>& stop) {
  StoredTasksResult r;
  for (const storage::TaskStat& t : store.List()) {
    if (stop()) {
      break;
    }
    if (!t.done || t.url.empty()) {
      continue;
    }
    sched::AnnounceTaskRequest req;
    req.set_host_id(host_id);
    req.set_peer_id(StoredPeerId(ip, hostname, seed, t.task_id));
    req.mutable_task()->set_task_id(t.task_id);
    req.mutable_task()->set_url(t.url);
    req.set_content_length(t.content_length);
    req.set_piece_length(t.piece_length);
    req.set_total_pieces(t.total_pieces);
    if (!rpc::VerifyTaskSpec(req.task()).ok()) {
      ++r.skipped;  // made with a tag, application, filters or piece length
      continue;
    }
    if (Status s = scheduler.AnnounceTask(req); !s.ok()) {
      spdlog::debug("stored task not announced task={} error=\"{}\"", t.task_id, s.ToString());
      ++r.skipped;
      continue;
    }
    ++r.announced;
  }
  return r;
}

}  // namespace df::daemon
