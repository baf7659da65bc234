#include "daemon/downloads.h"

#include <spdlog/spdlog.h>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/task_id.h"

namespace df::daemon {

using std::chrono::milliseconds;

namespace {
// A safety net for waits: notifications wake readers; this bounds a missed one.
constexpr milliseconds kMaxWaitSlice{5000};
constexpr size_t kMaxVerified = 4096;
}  // namespace

Status DownloadHandle::failure() const {
  if (session_ && session_->finished()) {
    return session_->result();
  }
  return Status::Ok();
}

Status DownloadHandle::Wait(uint64_t* version, Clock::time_point deadline) const {
  if (Status f = failure(); !f.ok()) {
    return f;
  }
  auto now = Clock::now();
  if (now >= deadline) {
    return DeadlineExceeded("download timed out");
  }
  auto slice = std::min<Clock::duration>(kMaxWaitSlice, deadline - now);
  *version = task().WaitForChange(*version, std::chrono::duration_cast<milliseconds>(slice));
  return failure();
}

StatusOr<std::shared_ptr<DownloadSession>> Downloads::StartOrAttach(DownloadOptions options) {
  Reap();
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
  auto session = std::make_shared<DownloadSession>(ctx_, std::move(options), std::move(lease));
  running_[task_id] = session;
  session->Start([this, task_id](DownloadSession* s) {
    std::lock_guard inner(mu_);
    auto it = running_.find(task_id);
    if (it != running_.end() && it->second.get() == s) {
      ended_.push_back(std::move(it->second));
      running_.erase(it);
    }
    idle_.notify_all();
  });
  return session;
}

bool Downloads::Downloading(const std::string& task_id) {
  std::lock_guard lock(mu_);
  return running_.count(task_id) > 0;
}

StatusOr<DownloadHandle> Downloads::Open(DownloadOptions options) {
  Reap();
  if (auto lease = ctx_->store->AcquireExisting(options.spec.task_id());
      lease.ok() && (*lease)->done()) {
    return DownloadHandle(std::move(lease).value());
  }
  DF_ASSIGN_OR_RETURN(std::shared_ptr<DownloadSession> s, StartOrAttach(std::move(options)));
  return DownloadHandle(std::move(s));
}

Status Downloads::Verify(DownloadHandle& d, const std::string& digest) {
  storage::Task& task = d.task();
  const std::string key =
      task.id() + "@" + std::to_string(task.Stat().created_at_ms) + "@" + digest;
  {
    std::lock_guard lock(mu_);
    if (verified_.count(key) > 0) {
      return Status::Ok();
    }
  }
  Status s = VerifyFileDigest(task.data_path(), digest);
  if (!s.ok()) {
    // What we stored is not what the client expects: drop it so a retry fetches it again.
    std::string id = task.id();
    d.Release();
    if (ctx_->swarm != nullptr) {
      ctx_->swarm->Evict(id);  // neighbours must not get it from us either
    }
    (void)ctx_->store->Discard(id);  // gone now, or when its last user lets go of it
    spdlog::error("digest mismatch, task discarded task_id={} error=\"{}\"", id, s.ToString());
    return s;
  }
  std::lock_guard lock(mu_);
  if (verified_.size() >= kMaxVerified) {
    verified_.clear();
  }
  verified_.insert(key);
  return Status::Ok();
}

Status Downloads::Delete(const std::string& task_id) {
  Reap();  // an ended session still holds its task
  {
    std::lock_guard lock(mu_);
    if (running_.count(task_id) > 0) {
      return FailedPrecondition("task " + task_id + " is being downloaded");
    }
  }
  if (ctx_->swarm != nullptr) {
    ctx_->swarm->Evict(task_id);  // its neighbour connections hold it
  }
  return ctx_->store->Delete(task_id);
}

void Downloads::Reap() {
  std::vector<std::shared_ptr<DownloadSession>> ended;
  {
    std::lock_guard lock(mu_);
    ended.swap(ended_);
  }
  for (auto& s : ended) {
    s->Join();
  }
}

void Downloads::Shutdown(milliseconds timeout) {
  std::vector<std::shared_ptr<DownloadSession>> left;
  {
    std::unique_lock lock(mu_);
    shutting_down_ = true;
    for (auto& [id, s] : running_) {
      s->Cancel();
    }
    if (!idle_.wait_for(lock, timeout, [&] { return running_.empty(); })) {
      spdlog::warn("shutdown: waiting for {} download(s) to stop", running_.size());
    }
    for (auto& [id, s] : running_) {
      left.push_back(s);
    }
  }
  for (auto& s : left) {
    s->Join();
  }
  Reap();
}

}  // namespace df::daemon
