#include "daemon/task_manager.h"

#include "dragonfly/common/task_id.h"

namespace df::daemon {

StatusOr<std::shared_ptr<PeerTask>> TaskManager::StartOrAttach(DownloadOptions options) {
  std::lock_guard lock(mu_);
  if (shutting_down_) {
    return Unavailable("dfdaemon is shutting down");
  }
  const std::string task_id = options.spec.task_id();
  if (auto it = running_.find(task_id); it != running_.end()) {
    return it->second;
  }
  DF_ASSIGN_OR_RETURN(storage::TaskLease lease, ctx_->store->Acquire(task_id, options.spec.url()));
  if (options.peer_id.empty()) {
    options.peer_id = MakePeerId(ctx_->config->host.ip, ctx_->config->host.hostname,
                                 ctx_->config->seed_peer.enable);
  }
  auto task = std::make_shared<PeerTask>(ctx_, std::move(options), std::move(lease));
  running_[task_id] = task;
  task->Start([this, task_id](PeerTask*) {
    std::lock_guard inner(mu_);
    running_.erase(task_id);
    idle_.notify_all();
  });
  return task;
}

void TaskManager::Shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  shutting_down_ = true;
  for (auto& [id, t] : running_) {
    t->Cancel();
  }
  idle_.wait_for(lock, timeout, [&] { return running_.empty(); });
}

}  // namespace df::daemon
