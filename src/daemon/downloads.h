// Downloads: the download core every client of this host goes through -- the local API (dfget),
// the registry mirror and proxy, the upload service (preheat, seed trigger). One session per
// task, shared by concurrent requests; a finished stored task is a local cache hit.
//
// A reader opens a DownloadHandle (a cache hit or the running session), waits on the task's
// notifications (no polling) until the bytes it wants are stored or the download ends, and
// checks a digest once (a mismatch discards the task, so a retry fetches it again).
//
// Threads: thread-safe. Sessions run on their own threads; finished ones are joined by Reap()
// (called on every Open and by the daemon's background loop) and by Shutdown.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "daemon/session.h"

namespace df::daemon {

using Clock = std::chrono::steady_clock;

class DownloadHandle {
 public:
  explicit DownloadHandle(storage::TaskLease cached) : cached_(std::move(cached)) {}
  explicit DownloadHandle(std::shared_ptr<DownloadSession> s) : session_(std::move(s)) {}

  storage::Task& task() const { return session_ ? session_->task() : *cached_; }
  bool cached() const { return !session_; }
  DownloadSession* session() const { return session_.get(); }
  // The download's error once it failed; ok while it runs or once it succeeded.
  Status failure() const;
  bool ended() const { return !session_ || session_->finished(); }
  // Waits until the task changes past *version, the download ends, or `deadline`; updates
  // *version. DeadlineExceeded at the deadline; the download's error once it failed.
  Status Wait(uint64_t* version, Clock::time_point deadline) const;
  // Drops this handle's hold on the task (before discarding it).
  void Release() {
    session_.reset();
    cached_.Reset();
  }

 private:
  storage::TaskLease cached_;
  std::shared_ptr<DownloadSession> session_;
};

class Downloads {
 public:
  explicit Downloads(DaemonContext* ctx) : ctx_(ctx) {}
  ~Downloads() { Shutdown(std::chrono::seconds(10)); }
  Downloads(const Downloads&) = delete;
  Downloads& operator=(const Downloads&) = delete;

  // The running session of options.spec.task_id(), or a new one (even when the task is done:
  // a seed trigger or a preheat re-announces it).
  StatusOr<std::shared_ptr<DownloadSession>> StartOrAttach(DownloadOptions options);
  // A cache hit when the task is stored and done; else StartOrAttach.
  StatusOr<DownloadHandle> Open(DownloadOptions options);
  // Checks the whole task against `digest` ("sha256:<hex>", ...) once per task; on a mismatch
  // releases `d` and discards the task.
  Status Verify(DownloadHandle& d, const std::string& digest);
  // Deletes a stored task that is not being downloaded (closing its neighbour connections).
  Status Delete(const std::string& task_id);
  // Whether a session of `task_id` is running (until its last call to the scheduler is done).
  bool Downloading(const std::string& task_id);
  // Joins the sessions that have ended.
  void Reap();
  // Cancels every session and joins them (waiting at most `timeout` for them to end cleanly).
  void Shutdown(std::chrono::milliseconds timeout);

 private:
  DaemonContext* ctx_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::map<std::string, std::shared_ptr<DownloadSession>> running_;
  std::vector<std::shared_ptr<DownloadSession>> ended_;  // to join
  std::set<std::string> verified_;                       // task:digest checked already
  bool shutting_down_ = false;
};

}  // namespace df::daemon
