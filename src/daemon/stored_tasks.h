// After a restart, the tasks this host holds whole are announced to the schedulers that own them
// (Scheduler.AnnounceTask), so that they serve as sources again without anyone downloading them
// first (issue #12). Internal to df_daemon.
#pragma once

#include <functional>
#include <string>

#include "daemon/scheduler_api.h"
#include "dragonfly/storage/task_store.h"

namespace df::daemon {

struct StoredTasksResult {
  size_t announced = 0;
  size_t skipped = 0;  // a spec this store cannot rebuild (see AnnounceStoredTasks), or refused
};

// The peer ID under which this host announces stored task `task_id`: the same after every
// restart, so that a scheduler that still knows it updates rather than adds a peer.
std::string StoredPeerId(const std::string& ip, const std::string& hostname, bool seed,
                         const std::string& task_id);

// Announces every finished task of `store` for host `host_id`, until `stop` says so. A task is
// announced with the spec its URL gives (no tag, application, filters or piece length: the store
// keeps the URL only); a task made with more hashes to another ID, the scheduler would refuse it,
// and it is skipped (it serves again once someone downloads it).
StoredTasksResult AnnounceStoredTasks(const storage::TaskStore& store, SchedulerApi& scheduler,
                                      const std::string& host_id, const std::string& ip,
                                      const std::string& hostname, bool seed,
                                      const std::function<bool()>& stop);

}  // namespace df::daemon
