// The tasks this host holds whole are known to the schedulers that own them (issue #12): after a
// restart of this daemon, and whenever a task's owner changes or loses its state -- its
// scheduler died and the next one on the ring took over, came back, was added, or restarted --
// they are announced (Scheduler.AnnounceTask), so that they serve as sources without anyone
// downloading them first. Internal to df_daemon.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "daemon/scheduler_api.h"
#include "dragonfly/common/ids.h"
#include "dragonfly/storage/task_store.h"

namespace df::daemon {

struct StoredTasksResult {
  size_t announced = 0;
  size_t skipped = 0;  // a spec this store cannot rebuild (see StoredTaskAnnouncer), or refused
};

// The peer ID under which this host announces stored task `task_id`: the same after every
// restart, so that a scheduler that still knows it updates rather than adds a peer.
std::string StoredPeerId(const std::string& ip, const std::string& hostname, bool seed,
                         const std::string& task_id);

// Remembers, per stored task, which scheduler (in which incarnation) knows it, and announces it
// when that is no longer the one that owns it. A task is announced with the spec its URL gives
// (no tag, application, filters or piece length: the store keeps the URL only); a task made with
// more hashes to another ID, the scheduler would refuse it, and it is skipped (it serves again
// once someone downloads it). Thread-safe; Sweep runs on one thread at a time.
class StoredTaskAnnouncer {
 public:
  struct Options {
    std::string host_id;
    std::string ip;
    std::string hostname;
    bool seed = false;
    // Names the scheduler a call about the task goes to now, in its current incarnation (two
    // names differ when the owner changed or restarted).
    std::function<std::string(const TaskId& task_id)> owner;
    // Whether a download session of this host is running for the task: its registration and
    // final report tell the owner (and it calls Known()), so a sweep leaves the task to it --
    // announced under the stored peer ID, it would be a second peer of this host. Unset: none.
    std::function<bool(const TaskId& task_id)> downloading;
  };

  // `store` and `scheduler` must outlive this object.
  StoredTaskAnnouncer(const storage::TaskStore& store, SchedulerApi& scheduler, Options options);

  // The task's owner learnt of it from its download (its last report was accepted).
  void Known(const TaskId& task_id);
  // Announces each finished task whose owner is not the one that knows it, until `stop` says so.
  StoredTasksResult Sweep(const std::function<bool()>& stop);

 private:
  const storage::TaskStore& store_;
  SchedulerApi& scheduler_;
  const Options opts_;
  std::mutex mu_;
  std::unordered_map<TaskId, std::string> known_by_;  // -> the owner's name
};

}  // namespace df::daemon
