// Local piece storage of a dfdaemon: one data file per task plus a crash-safe metadata file
// (replaced atomically: written to a temporary name, then renamed), so a restart resumes a
// half-finished task without fetching its stored pieces again. No fsync on the data path: the
// metadata records the kernel boot ID; after a process crash the page cache still holds every
// piece the metadata lists, and after a reboot (possible power loss) each listed piece is
// verified against its CRC32C on load and dropped if it does not match.
//
// Layout: <dir>/<task_id>/data and <dir>/<task_id>/meta.json.
//
// Thread-safety: TaskStore and Task are thread-safe; every method may be called from any thread.
// A Task's piece writes may run concurrently for different pieces (pwrite at piece offsets).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::storage {

// A persistent cache task (dfcache import, docs/dfcache.md): held until `expires_at_ms` whatever
// the GC's TTL and watermarks say, and deleted by the GC once that time has passed.
struct Persistence {
  int64_t expires_at_ms = 0;  // 0: an ordinary task
  // The holders the cluster keeps; 0 on an exported copy, which is no replica (the GC may evict
  // it earlier, under disk pressure or by the ordinary TTL) but goes at the expiry too.
  uint32_t replicas = 0;
  std::string tag;  // what the task ID was computed with, with the content
  std::string application;
  std::string digest;     // "sha256:<hex>" of the content, taken at the import
  bool verified = false;  // the content stored here matched `digest`
  bool persistent() const { return expires_at_ms > 0; }
  bool replica() const { return persistent() && replicas > 0; }
};

struct TaskStat {
  std::string task_id;
  std::string url;
  int64_t content_length = -1;  // -1 = unknown yet
  uint32_t piece_length = 0;    // 0 = unknown yet
  uint32_t finished_pieces = 0;
  uint32_t total_pieces = 0;  // 0 = unknown yet
  uint64_t finished_bytes = 0;
  bool done = false;
  int64_t created_at_ms = 0;
  int64_t accessed_at_ms = 0;
  int users = 0;  // open leases (downloads, uploads)
  std::string data_path;
  Persistence persistence;
};

// A snapshot of which pieces a task has, for peers (see the piece protocol).
struct PieceMap {
  uint64_t version = 0;  // grows whenever a piece lands or the geometry becomes known
  int64_t content_length = -1;
  uint32_t piece_length = 0;
  uint32_t total_pieces = 0;  // 0 = unknown yet
  bool done = false;
  std::vector<uint8_t> bitmap;  // bit n (byte n/8, bit n%8 LSB first) = has piece n
  bool Has(uint32_t n) const {
    return n / 8 < bitmap.size() && ((bitmap[n / 8] >> (n % 8)) & 1) != 0;
  }
};

class Task {
 public:
  virtual ~Task() = default;
  virtual const std::string& id() const = 0;
  virtual std::string data_path() const = 0;

  // Sets the piece length and, when known, the content length. The piece length can be set
  // once; the content length can go from unknown to known (then the piece count is fixed).
  // InvalidArgument on a conflicting value.
  virtual Status SetGeometry(int64_t content_length, uint32_t piece_length) = 0;

  virtual TaskStat Stat() const = 0;
  virtual PieceMap Map() const = 0;
  virtual bool HasPiece(uint32_t n) const = 0;
  // The stored CRC32C of piece n (valid only when HasPiece(n)).
  virtual uint32_t PieceCrc(uint32_t n) const = 0;
  // Length of piece n, from the geometry (for an unknown length: the piece length, or the
  // actual length for pieces already stored).
  virtual uint32_t PieceSize(uint32_t n) const = 0;

  // Verifies `crc` == CRC32C(data) (DataLoss if not), writes the piece at its offset and marks
  // it present. Writing a piece that is already present is a no-op. For an unknown content
  // length a short piece is allowed (it must then be the last one, see Finish).
  virtual Status WritePiece(uint32_t n, const char* data, uint32_t len, uint32_t crc) = 0;

  // For a task whose content length was unknown: the origin ended after `content_length` bytes.
  virtual Status SetFinalLength(int64_t content_length) = 0;

  // Bytes [0, ReadyBytes()) are stored and verified (the contiguous prefix).
  virtual uint64_t ReadyBytes() const = 0;
  virtual bool done() const = 0;

  // Blocks until Map().version > `known_version`, the task is done, WakeWaiters() is called, or
  // `timeout` passes; returns the current version.
  virtual uint64_t WaitForChange(uint64_t known_version, std::chrono::milliseconds timeout) = 0;
  // Wakes every WaitForChange caller (its download ended: readers look at its result).
  virtual void WakeWaiters() = 0;

  // Descriptor of the data file, open for reading (pread/sendfile), valid for the Task's life.
  virtual int read_fd() const = 0;

  // Atomically replaces the metadata with the current piece list. Called periodically by
  // writers and when the task finishes.
  virtual Status Flush() = 0;

  // Marks the task used now (for TTL GC).
  virtual void Touch() = 0;

  // Makes the task persistent (or ordinary again with expires_at_ms 0) and flushes its metadata,
  // so the setting survives a restart.
  virtual Status SetPersistence(const Persistence& p) = 0;
};

// A lease keeps a task from being deleted or garbage-collected while it is in use.
class TaskLease {
 public:
  TaskLease() = default;
  TaskLease(std::shared_ptr<Task> task, std::function<void()> release)
      : task_(std::move(task)), release_(std::move(release)) {}
  TaskLease(TaskLease&& o) noexcept = default;
  TaskLease& operator=(TaskLease&& o) noexcept {
    Reset();
    task_ = std::move(o.task_);
    release_ = std::move(o.release_);
    return *this;
  }
  TaskLease(const TaskLease&) = delete;
  TaskLease& operator=(const TaskLease&) = delete;
  ~TaskLease() { Reset(); }
  Task* operator->() const { return task_.get(); }
  Task& operator*() const { return *task_; }
  const std::shared_ptr<Task>& get() const { return task_; }
  explicit operator bool() const { return task_ != nullptr; }
  void Reset() {
    if (release_) {
      release_();
      release_ = nullptr;
    }
    task_.reset();
  }

 private:
  std::shared_ptr<Task> task_;
  std::function<void()> release_;
};

struct GcPolicy {
  std::chrono::milliseconds task_ttl{std::chrono::hours(24 * 7)};
  int disk_high_percent = 90;   // start evicting above this usage of the filesystem
  int disk_low_percent = 70;    // evict (least recently used first) until below this
  uint64_t capacity_bytes = 0;  // 0 = the whole filesystem; else a quota for the store
};

struct GcResult {
  int evicted = 0;
  uint64_t freed_bytes = 0;
};

class TaskStore {
 public:
  virtual ~TaskStore() = default;

  // Returns the task, creating it (empty) if it is not stored, and takes a lease on it.
  virtual StatusOr<TaskLease> Acquire(const std::string& task_id, const std::string& url) = 0;
  // Takes a lease only if the task exists. NotFound otherwise.
  virtual StatusOr<TaskLease> AcquireExisting(const std::string& task_id) = 0;

  virtual StatusOr<TaskStat> Stat(const std::string& task_id) const = 0;
  virtual std::vector<TaskStat> List() const = 0;
  // FailedPrecondition when the task is in use; NotFound when absent.
  virtual Status Delete(const std::string& task_id) = 0;
  // Deletes the task now or, while it is in use, hides it at once (Stat, List and
  // AcquireExisting no longer see it; Acquire fails with Unavailable) and deletes it when its
  // last lease is released. For content found bad (a digest mismatch). NotFound when absent.
  virtual Status Discard(const std::string& task_id) = 0;

  // Evicts tasks not in use: expired by TTL, then least recently used while over the high
  // watermark, down to the low one. A replica (a whole persistent task with replicas > 0) is
  // never evicted before its expiry; every persistent task is removed once past it (when not in
  // use).
  virtual GcResult RunGc(const GcPolicy& policy) = 0;
  virtual uint64_t UsedBytes() const = 0;
  // The usage RunGc compares with the policy's watermarks, in percent: of capacity_bytes when
  // set, else of the file system the store is on.
  virtual double UsagePercent(const GcPolicy& policy) const = 0;
  virtual size_t TaskCount() const = 0;
};

// Opens (creating if needed) a store under `dir` and loads the metadata of stored tasks.
// Unfinished tasks keep their verified pieces; a metadata file that fails to parse is discarded
// with its data.
StatusOr<std::unique_ptr<TaskStore>> OpenTaskStore(const std::string& dir);

}  // namespace df::storage
