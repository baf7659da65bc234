// PeerTask: one download of one task on this host (the conductor). It registers with the
// scheduler, fetches pieces from the parents it is given (one thread and one pipelined
// connection per parent), drops failing, slow or lying parents and asks for others, and goes back
// to source when told to (or when the scheduler is unreachable, if allowed).
//
// Threads: Start() runs the conductor on its own thread; parent workers are threads owned by
// the conductor. Public methods are thread-safe. Local clients watch progress through the task
// in the store (Task::WaitForChange) and WaitFinished().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/scheduler.pb.h"
#include "dragonfly/backend/http_backend.h"
#include "dragonfly/daemon/config.h"
#include "dragonfly/storage/task_store.h"

namespace df::daemon {

namespace sched = ::dragonfly::api::scheduler;

struct DaemonMetrics;
class SchedulerClient;

// What every PeerTask shares; owned by the Daemon, outlives every PeerTask.
struct DaemonContext {
  const DaemonConfig* config = nullptr;
  storage::TaskStore* store = nullptr;
  SchedulerClient* scheduler = nullptr;
  backend::HttpBackend* backend = nullptr;
  DaemonMetrics* metrics = nullptr;
  std::string host_id;
  std::function<void()> announce_host;  // re-announce after the scheduler forgot this host
};

struct DownloadOptions {
  ::dragonfly::api::scheduler::TaskSpec spec;
  std::string peer_id;
  bool seed = false;  // triggered as the seed peer: fetch from the origin
  bool disable_back_to_source = false;
};

struct SourceBytes {
  uint64_t back_to_source = 0;
  uint64_t remote_peer = 0;
  uint64_t seed_peer = 0;  // part of remote_peer
};

class PeerTask : public std::enable_shared_from_this<PeerTask> {
 public:
  PeerTask(DaemonContext* ctx, DownloadOptions options, storage::TaskLease lease);
  ~PeerTask();
  PeerTask(const PeerTask&) = delete;
  PeerTask& operator=(const PeerTask&) = delete;

  // Starts the conductor thread; `on_done` runs on it when the download has finished.
  void Start(std::function<void(PeerTask*)> on_done);
  void Cancel();
  // True once finished; waits at most `timeout`.
  bool WaitFinished(std::chrono::milliseconds timeout);
  bool finished() const;
  Status result() const;
  std::string warning() const;
  SourceBytes bytes() const;

  storage::Task& task() const { return *lease_; }
  const DownloadOptions& options() const { return options_; }

 private:
  struct Swarm;
  void Run();
  Status Download();
  Status DownloadFromParents(const ::dragonfly::api::scheduler::RegisterPeerResponse& resp,
                             std::vector<std::string>* failed);
  void ParentWorker(Swarm* swarm, int index);
  Status BackToSource();
  Status AdoptGeometry(const storage::PieceMap& map);
  void Report(::dragonfly::api::scheduler::PeerState state, const std::string& error, Swarm* swarm);
  bool WaitCancelled(std::chrono::milliseconds d);

  DaemonContext* ctx_;
  const DownloadOptions options_;
  storage::TaskLease lease_;
  std::atomic<bool> cancelled_{false};
  std::atomic<uint64_t> bytes_b2s_{0};
  std::atomic<uint64_t> bytes_peer_{0};
  std::atomic<uint64_t> bytes_seed_{0};
  bool back_to_source_ = false;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  Status result_;
  std::string warning_;
};

}  // namespace df::daemon
