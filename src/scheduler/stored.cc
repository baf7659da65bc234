// AnnounceTask: a task a host holds whole becomes a succeeded peer of it, so that after a restart
// (of the daemon, or of the scheduler that owns the task) it serves as a source again without
// anyone downloading it first, and without a seed trigger or an origin fetch.
#include <spdlog/spdlog.h>

#include "dragonfly/common/task_id.h"
#include "dragonfly/rpc/task_spec.h"
#include "scheduler/state_impl.h"

namespace df::scheduler {

Status SchedulerState::AnnounceTask(const api::AnnounceTaskRequest& req) {
  // The binding of ID and spec, as for RegisterPeer: nobody announces other content under an ID.
  DF_RETURN_IF_ERROR(rpc::VerifyTaskSpec(req.task()));
  DF_ASSIGN_OR_RETURN(const PeerId peer_id, PeerId::Parse(req.peer_id()));
  if (req.content_length() < 0 || req.piece_length() == 0 || req.total_pieces() == 0) {
    return InvalidArgument("a stored task needs its whole geometry");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  auto host_it = m.hosts.find(HostId(req.host_id()));
  if (host_it == m.hosts.end()) {
    return FailedPrecondition("host not announced: " + req.host_id());
  }
  HostEntry& host = host_it->second;
  const TaskId task_id(req.task().task_id());  // checked against its spec above
  auto existing = m.peers.find(peer_id);
  if (existing != m.peers.end() &&
      (existing->second.host != &host || existing->second.task_id != task_id)) {
    return InvalidArgument("peer " + req.peer_id() + " is registered with another host or task");
  }
  if (existing == m.peers.end()) {
    DF_RETURN_IF_ERROR(m.CheckRoom(host, task_id));
  }
  if (auto known = m.tasks.find(task_id);
      known != m.tasks.end() &&
      IsPersistentCacheUrl(known->second.spec.url()) != IsPersistentCacheUrl(req.task().url())) {
    // One ID, one kind of task: a persistent cache task cannot take over a URL's, nor the
    // other way round (its peers would get no origin, or the wrong content).
    return PermissionDenied("task " + task_id.str() + " is known here as " +
                            (IsPersistentCacheUrl(known->second.spec.url())
                                 ? "a persistent cache task"
                                 : "the task of a URL"));
  }
  auto [task_it, new_task] = m.tasks.try_emplace(task_id);
  TaskEntry& task = task_it->second;
  if (new_task) {
    task.spec = req.task();
  }
  if ((task.content_length >= 0 && task.content_length != req.content_length()) ||
      (task.piece_length != 0 && task.piece_length != req.piece_length())) {
    return FailedPrecondition("task " + task_id.str() + " has another geometry here (" +
                              std::to_string(task.content_length) + " bytes in pieces of " +
                              std::to_string(task.piece_length) + ")");
  }
  task.content_length = req.content_length();
  task.piece_length = req.piece_length();
  task.total_pieces = req.total_pieces();
  DF_ASSIGN_OR_RETURN(auto found, m.PeerOf(peer_id, host, task, task_id));
  PeerEntry& peer = *found.first;
  peer.registered = true;
  peer.phase = Phase::kSucceeded;
  peer.finished_pieces = peer.total_pieces = req.total_pieces();
  peer.last_active = peer.succeeded_at = m.clock->Now();
  m.Recount(peer);
  m.UpdateGauges();
  spdlog::debug("stored task announced task={} peer={} host={}", task_id, peer.id, host.info.id());
  return Status::Ok();
}

}  // namespace df::scheduler
