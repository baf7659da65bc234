// LocalTaskStore: tasks under one directory, with leases and GC. Thread-safe: the task table
// and lease counts are guarded by mu_.
#include "dragonfly/storage/task_store.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>

#include "dragonfly/common/ids.h"
#include "storage/task_impl.h"

namespace df::storage {
namespace {

// The store and its task directories: the daemon's user writes, its group reads (a task's data
// file is 0640, its meta.json 0600): dfget, run by a member of the group that may use the
// daemon's socket, reads a finished download straight from the store (docs/security.md).
constexpr std::filesystem::perms kTaskDirPerms = std::filesystem::perms::owner_all |
                                                 std::filesystem::perms::group_read |
                                                 std::filesystem::perms::group_exec;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class LocalTaskStore : public TaskStore {
 public:
  explicit LocalTaskStore(std::string dir) : dir_(std::move(dir)) {}

  Status LoadAll() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      std::string id = entry.path().filename().string();
      if (!entry.is_directory() || !TaskId::Parse(id).ok()) {
        continue;
      }
      std::error_code ignored;  // a task that cannot be tightened or removed is still skipped
      std::filesystem::permissions(entry.path(), kTaskDirPerms,
                                   std::filesystem::perm_options::replace, ignored);
      auto task = TaskImpl::Load(entry.path().string(), id);
      if (!task.ok()) {
        spdlog::warn("discarding stored task task_id={} reason=\"{}\"", id,
                     task.status().ToString());
        std::filesystem::remove_all(entry.path(), ignored);
        continue;
      }
      tasks_[id].task = std::move(task).value();
    }
    if (ec) {
      return Internal("read store directory " + dir_ + ": " + ec.message());
    }
    return Status::Ok();
  }

  StatusOr<TaskLease> Acquire(const std::string& task_id, const std::string& url) override {
    DF_RETURN_IF_ERROR(TaskId::Parse(task_id).status());
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) {
      std::string dir = dir_ + "/" + task_id;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (!ec) {  // the daemon user's; its group reads the data (kTaskDirPerms)
        std::filesystem::permissions(dir, kTaskDirPerms, std::filesystem::perm_options::replace,
                                     ec);
      }
      if (ec) {
        return Internal("create " + dir + ": " + ec.message());
      }
      DF_ASSIGN_OR_RETURN(auto task, TaskImpl::Create(dir, task_id, url));
      it = tasks_.emplace(task_id, Entry{std::move(task), 0}).first;
    } else if (it->second.discarded) {
      return Unavailable("task " + task_id + " is being discarded; retry");
    }
    return LeaseLocked(it->second);
  }

  StatusOr<TaskLease> AcquireExisting(const std::string& task_id) override {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.discarded) {
      return NotFound("task " + task_id + " not found");
    }
    return LeaseLocked(it->second);
  }

  StatusOr<TaskStat> Stat(const std::string& task_id) const override {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.discarded) {
      return NotFound("task " + task_id + " not found");
    }
    TaskStat s = it->second.task->Stat();
    s.users = it->second.users;
    return s;
  }

  std::vector<TaskStat> List() const override {
    std::lock_guard lock(mu_);
    std::vector<TaskStat> out;
    for (const auto& [id, e] : tasks_) {
      if (e.discarded) {
        continue;
      }
      out.push_back(e.task->Stat());
      out.back().users = e.users;
    }
    return out;
  }

  Status Delete(const std::string& task_id) override {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) {
      return NotFound("task " + task_id + " not found");
    }
    if (it->second.users > 0) {
      return FailedPrecondition("task " + task_id + " is in use");
    }
    RemoveLocked(it);
    return Status::Ok();
  }

  Status Discard(const std::string& task_id) override {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) {
      return NotFound("task " + task_id + " not found");
    }
    if (it->second.users > 0) {
      it->second.discarded = true;  // removed when the last lease goes
      return Status::Ok();
    }
    RemoveLocked(it);
    return Status::Ok();
  }

  GcResult RunGc(const GcPolicy& policy) override {
    GcResult result;
    std::lock_guard lock(mu_);
    int64_t now = NowMs();
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      auto next = std::next(it);
      const Persistence p = it->second.task->persistence();
      const bool past_expiry = p.persistent() && now >= p.expires_at_ms;
      const bool expired = past_expiry || (!p.replica() && now - it->second.task->accessed_at_ms() >
                                                               policy.task_ttl.count());
      if (it->second.users == 0 && expired) {
        result.freed_bytes += it->second.task->DiskBytes();
        result.evicted++;
        spdlog::info("gc evicted task task_id={} reason={}", it->first,
                     past_expiry ? "persistent_ttl" : "ttl");
        RemoveLocked(it);
      }
      it = next;
    }
    if (UsagePercentLocked(policy) <= policy.disk_high_percent) {
      return result;
    }
    std::vector<std::pair<int64_t, std::string>> lru;
    for (const auto& [id, e] : tasks_) {
      if (e.users == 0 && !(e.task->persistence().replica() && e.task->done())) {
        lru.emplace_back(e.task->accessed_at_ms(), id);
      }
    }
    std::sort(lru.begin(), lru.end());
    for (const auto& [at, id] : lru) {
      if (UsagePercentLocked(policy) <= policy.disk_low_percent) {
        break;
      }
      auto it = tasks_.find(id);
      result.freed_bytes += it->second.task->DiskBytes();
      result.evicted++;
      spdlog::info("gc evicted task task_id={} reason=disk_watermark", id);
      RemoveLocked(it);
    }
    return result;
  }

  uint64_t UsedBytes() const override {
    std::lock_guard lock(mu_);
    return UsedBytesLocked();
  }
  double UsagePercent(const GcPolicy& policy) const override {
    std::lock_guard lock(mu_);
    return UsagePercentLocked(policy);
  }
  size_t TaskCount() const override {
    std::lock_guard lock(mu_);
    return tasks_.size();
  }

 private:
  struct Entry {
    std::shared_ptr<TaskImpl> task;
    int users = 0;
    bool discarded = false;
  };

  TaskLease LeaseLocked(Entry& e) {
    e.users++;
    e.task->Touch();
    std::string id = e.task->id();
    const TaskImpl* task = e.task.get();
    return TaskLease(e.task, [this, id, task] {
      std::lock_guard lock(mu_);
      auto it = tasks_.find(id);
      // The same task (not a new one under the same ID after a discard).
      if (it != tasks_.end() && it->second.task.get() == task && it->second.users > 0) {
        it->second.users--;
        it->second.task->Touch();
        if (it->second.users == 0 && it->second.discarded) {
          RemoveLocked(it);
        }
      }
    });
  }

  void RemoveLocked(std::map<std::string, Entry>::iterator it) {
    std::error_code ec;
    std::filesystem::remove_all(it->second.task->dir(), ec);
    tasks_.erase(it);
  }

  uint64_t UsedBytesLocked() const {
    uint64_t used = 0;
    for (const auto& [id, e] : tasks_) {
      used += e.task->DiskBytes();
    }
    return used;
  }

  double UsagePercentLocked(const GcPolicy& policy) const {
    if (policy.capacity_bytes > 0) {
      return 100.0 * static_cast<double>(UsedBytesLocked()) /
             static_cast<double>(policy.capacity_bytes);
    }
    struct statvfs vfs{};
    if (::statvfs(dir_.c_str(), &vfs) != 0 || vfs.f_blocks == 0) {
      return 0;
    }
    return 100.0 * static_cast<double>(vfs.f_blocks - vfs.f_bavail) /
           static_cast<double>(vfs.f_blocks);
  }

  const std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> tasks_;
};

}  // namespace

StatusOr<std::unique_ptr<TaskStore>> OpenTaskStore(const std::string& dir) {
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir, ec);
  if (!ec) {
    // Also a store of an older version (0700); a directory the daemon does not own (a mount
    // point, say) keeps its mode unless the daemon made it.
    std::error_code chmod_error;
    std::filesystem::permissions(dir, kTaskDirPerms, std::filesystem::perm_options::replace,
                                 chmod_error);
    if (created) {
      ec = chmod_error;
    }
  }
  if (ec) {
    return PermissionDenied("cannot create storage directory " + dir + ": " + ec.message());
  }
  auto store = std::make_unique<LocalTaskStore>(dir);
  DF_RETURN_IF_ERROR(store->LoadAll());
  return std::unique_ptr<TaskStore>(std::move(store));
}

}  // namespace df::storage
