// TaskManager: the running downloads of this host, one PeerTask per task, so concurrent local
// requests for one task share a single download. Thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/peer_task.h"

namespace df::daemon {

class TaskManager {
 public:
  explicit TaskManager(DaemonContext* ctx) : ctx_(ctx) {}

  // Returns the running download of options.spec.task_id(), or starts one.
  StatusOr<std::shared_ptr<PeerTask>> StartOrAttach(DownloadOptions options);
  // Cancels every download and waits (at most `timeout`) for them to end.
  void Shutdown(std::chrono::milliseconds timeout);

 private:
  DaemonContext* ctx_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::map<std::string, std::shared_ptr<PeerTask>> running_;
  bool shutting_down_ = false;
};

}  // namespace df::daemon
