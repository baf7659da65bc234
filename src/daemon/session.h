// DownloadSession: one download of one task on this host (the conductor). It joins the task's
// exchange in the swarm (so neighbours can trade with it from the start), asks the scheduler for
// neighbours and connects to them, and watches: pieces landing, neighbours leaving or failing,
// stalls. It asks the scheduler again when it stalls, when every neighbour it was given is gone,
// and every few seconds while it has fewer than it could use; it reports progress (not per
// piece) and goes back to source when told to (or when the scheduler is unreachable, if
// allowed). A seed peer fetches from the origin and serves its neighbours as pieces land.
//
// Threads: the conductor runs on the session's own thread (Start), joined by its owner
// (Downloads) -- never detached. Observer callbacks arrive on the swarm's network thread and
// only record and notify under `mu_`. Public methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "api/scheduler.pb.h"
#include "daemon/piece_spans.h"
#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/daemon/config.h"
#include "dragonfly/piece/swarm.h"
#include "dragonfly/storage/task_store.h"
#include "dragonfly/tracing/tracer.h"

namespace df::daemon {

namespace sched = ::dragonfly::api::scheduler;

struct DaemonMetrics;
class SchedulerApi;

// What every session shares; owned by the Daemon, outlives every session.
struct DaemonContext {
  const DaemonConfig* config = nullptr;
  storage::TaskStore* store = nullptr;
  SchedulerApi* scheduler = nullptr;
  piece::Swarm* swarm = nullptr;
  backend::HttpBackend* backend = nullptr;
  DaemonMetrics* metrics = nullptr;
  tracing::Tracer* tracer = nullptr;  // spans of downloads (null: none)
  std::string host_id;
  std::function<void()> announce_host;  // re-announce after the scheduler forgot this host
  // The task's scheduler accepted this host's report that it holds `task_id` whole.
  std::function<void(const TaskId& task_id)> on_stored_known;
};

struct DownloadOptions {
  sched::TaskSpec spec;
  std::string peer_id;
  bool seed = false;  // triggered as the seed peer: fetch from the origin
  bool disable_back_to_source = false;
  // The span this download serves (a proxy request, dfget's call, a seed trigger, a preheat):
  // its span is a child of it. Invalid: a trace of its own.
  tracing::SpanContext trace_parent;
};

struct SourceBytes {
  uint64_t back_to_source = 0;
  uint64_t remote_peer = 0;
  uint64_t seed_peer = 0;  // part of remote_peer
};

class DownloadSession : public piece::ExchangeObserver {
 public:
  DownloadSession(DaemonContext* ctx, DownloadOptions options, storage::TaskLease lease);
  ~DownloadSession() override;  // joins the conductor (Cancel first to hurry it)
  DownloadSession(const DownloadSession&) = delete;
  DownloadSession& operator=(const DownloadSession&) = delete;

  // Starts the conductor; `on_done` runs on its thread when the download has ended.
  void Start(std::function<void(DownloadSession*)> on_done);
  void Cancel();
  void Join();
  bool finished() const;
  Status result() const;
  std::string warning() const;
  SourceBytes bytes() const;

  // Registers this session with the task's scheduler, with its progress, the answer's neighbours
  // ignored: a seed peer when it starts, and again when a seed trigger finds it running (the
  // scheduler that triggered it died, the next one triggered it again). Any thread. The error
  // when the scheduler refused (PermissionDenied: the cluster's blocklist).
  Status Register();

  storage::Task& task() const { return *lease_; }
  const DownloadOptions& options() const { return options_; }

  // piece::ExchangeObserver (the swarm's network thread).
  void OnPieceStored(uint32_t n, uint32_t bytes, const std::string& from, bool from_seed) override;
  void OnNeighbourGone(const std::string& peer_id, bool failed, const Status& why) override;
  void OnLocalError(const Status& why) override;

 private:
  enum class Wake { kDone, kStalled, kNoNeighbours, kTopUp, kReRegister, kCancelled, kFatal };

  void Run();
  Status Download();
  Status Seed();
  Status Mesh();
  Status BackToSource();
  Wake WaitForProgress();
  // The download's end for a wake that ends it (done, cancelled, a local error), else nullopt.
  std::optional<Status> Ended(Wake w);
  // One round of trading with the neighbours connected: waits for progress; the download's end
  // (ok or its error), or nullopt to ask the scheduler again (with need_back_to_source set in
  // *req after kStuckRounds rounds without progress).
  std::optional<Status> Trade(sched::RegisterPeerRequest* req, uint32_t* stuck_rounds);
  // The neighbours of a NEIGHBOURS answer, as the swarm wants them; remembers them as given.
  std::vector<piece::NeighbourAddr> Given(const sched::RegisterPeerResponse& resp);
  // NotFound when the scheduler does not know this peer (it should register again).
  Status Report(sched::PeerState state, const std::string& error);
  // Where this download stands, for a registration.
  void SetProgress(sched::RegisterPeerRequest* req) const;
  bool WaitCancelled(std::chrono::milliseconds d);
  void JoinSwarm(bool download);
  // The exchange reports a piece from a neighbour on its network thread after the disk write,
  // so the last reports can come after the download saw its task done: waits for them (at most
  // a second) so that the bytes by source add up.
  void AwaitPieceReports();

  DaemonContext* ctx_;
  const DownloadOptions options_;
  storage::TaskLease lease_;
  std::unique_ptr<piece::SwarmSession> swarm_;
  std::thread thread_;
  std::atomic<bool> cancelled_{false};
  std::atomic<uint64_t> bytes_b2s_{0};
  std::atomic<uint64_t> bytes_peer_{0};
  std::atomic<uint64_t> bytes_seed_{0};
  std::atomic<bool> back_to_source_{false};  // written by the conductor
  // Pieces the task held when the download started, stored from the origin, and reported by
  // the exchange as received from neighbours (AwaitPieceReports).
  uint32_t pieces_at_start_ = 0;
  std::atomic<uint32_t> pieces_b2s_{0};
  std::atomic<uint32_t> pieces_peer_{0};
  // Per-neighbour tallies for the download's piece spans; kept only when it is traced.
  std::atomic<bool> trace_pieces_{false};
  std::string trace_parent_;  // the download span's, when traced (set before the swarm is joined)
  NeighbourLedger ledger_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_: what the observer learnt since the conductor last looked.
  std::chrono::steady_clock::time_point last_progress_;
  std::set<std::string> given_;   // neighbours the scheduler handed out
  std::set<std::string> gone_;    // ... that left or could not be reached
  std::set<std::string> failed_;  // ... that misbehaved or failed: never again
  bool neighbours_changed_ = false;
  Status fatal_;
  bool finished_ = false;
  Status result_;
  std::string warning_;
};

}  // namespace df::daemon
