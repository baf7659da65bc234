// gRPC client of the schedulers. The list of schedulers is replaceable at runtime
// (SetSchedulers: the manager's answer, or scheduler.addrs as the fallback).
//
// A task's RPCs go to the scheduler that owns the task: the first on a consistent-hash ring of
// the list's addresses (common/hash_ring.h), so every peer of a task meets on the same scheduler
// and adding or removing a scheduler moves only its own tasks. A scheduler that fails with
// UNAVAILABLE or DEADLINE_EXCEEDED is marked down for a few seconds and the call fails over to
// the task's next scheduler on the ring -- the one that owns the task once the manager drops the
// dead one from the list, so failover and membership agree; schedulers marked down are tried
// last. When a scheduler answers "host not announced" (it restarted, or it was just added), the
// host is announced to it (the `host_request` hook) and the call retried once. When every
// scheduler failed, `on_all_unreachable` runs (the daemon asks the manager for a fresh list).
// Host announcements go to every scheduler. `on_owners_changed` runs whenever the owner of some
// tasks may have changed or lost its state (a scheduler went down, came back, was added or
// removed, or forgot this host): the daemon re-announces the tasks it holds (stored_tasks.h).
//
// Thread-safe: calls work on a snapshot of the list; SetSchedulers swaps it. Unchanged addresses
// keep their channel and health across swaps. Hooks run on the calling thread, outside any lock.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/scheduler.grpc.pb.h"
#include "daemon/scheduler_api.h"
#include "dragonfly/common/hash_ring.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/common/status.h"
#include "dragonfly/rpc/tls.h"

namespace df::daemon {

class SchedulerClient final : public SchedulerApi {
 public:
  struct Hooks {
    // Builds this host's announcement; null = never announce on demand.
    std::function<sched::AnnounceHostRequest()> host_request;
    // Every scheduler of the list failed a call as unreachable.
    std::function<void()> on_all_unreachable;
    // A scheduler answered an announcement with its piece-token key.
    std::function<void(const std::string& key)> on_token_key;
    // Task ownership may have changed (see above); called outside any lock, never re-entered
    // from a call of this client's own hooks.
    std::function<void()> on_owners_changed;
  };

  // `credentials` null: plaintext.
  SchedulerClient(const std::vector<std::string>& addrs, std::chrono::milliseconds timeout,
                  Hooks hooks = {}, std::shared_ptr<const rpc::Credentials> credentials = nullptr);

  // True when the list is not empty.
  bool enabled() const override;
  std::vector<std::string> addrs() const;
  // Replaces the list (order kept, duplicates dropped). With `announce_added`, the host is
  // announced to the schedulers that were not in the list before. Returns whether the list
  // changed.
  bool SetSchedulers(const std::vector<std::string>& addrs, bool announce_added = true);

  StatusOr<sched::RegisterPeerResponse> RegisterPeer(
      const sched::RegisterPeerRequest& req) override;
  Status ReportPeer(const sched::ReportPeerRequest& req) override;
  Status LeavePeer(const sched::LeavePeerRequest& req) override;
  Status AnnounceTask(const sched::AnnounceTaskRequest& req) override;
  StatusOr<std::string> BoundBlobUrl(const std::string& task_id) override;
  StatusOr<sched::AnnouncePersistentCacheTaskResponse> AnnouncePersistentCacheTask(
      const sched::AnnouncePersistentCacheTaskRequest& req) override;
  StatusOr<sched::StatPersistentCacheTaskResponse> StatPersistentCacheTask(
      const std::string& task_id) override;
  StatusOr<sched::DeletePersistentCacheTaskResponse> DeletePersistentCacheTask(
      const std::string& task_id) override;
  // Announces to every scheduler; ok if at least one accepted.
  Status AnnounceHost(const sched::AnnounceHostRequest& req);
  void LeaveHost(const std::string& host_id);
  // The scheduler a call about `task_id` goes to first now (its owner, or the next one up while
  // the owner is marked down); "" when the list is empty. With `generation`, also the number of
  // times that scheduler forgot this host (a restarted scheduler must be told again).
  std::string OwnerOf(const TaskId& task_id, uint64_t* generation = nullptr) const;

  // How long a scheduler that failed as unreachable is tried last.
  static constexpr std::chrono::milliseconds kDownFor{5000};

 private:
  struct Entry;
  struct List;

  std::shared_ptr<const List> Snapshot() const;
  // The entries in the order a call about `task_id` tries them.
  static std::vector<Entry*> CallOrder(const List& list, const TaskId& task_id);
  void OwnersChanged() const;
  std::shared_ptr<Entry> MakeEntry(const std::string& addr) const;
  template <typename Call>
  Status ForTask(const TaskId& task_id, Call&& call);
  Status Announce(Entry& e, const sched::AnnounceHostRequest& req);
  void MarkDown(Entry& e, const Status& why);
  void MarkUp(Entry& e);

  const std::chrono::milliseconds timeout_;
  const Hooks hooks_;
  const std::shared_ptr<const rpc::Credentials> credentials_;
  mutable std::mutex mu_;
  std::shared_ptr<const List> list_;  // guarded by mu_; the List itself is immutable
};

}  // namespace df::daemon
