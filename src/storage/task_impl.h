// TaskImpl: the Task of a LocalTaskStore. See dragonfly/storage/task_store.h for the contract.
// Thread-safe: geometry, bitmap and counters are guarded by mu_; piece bytes are written with
// pwrite outside the lock (pieces never overlap); flushes are serialized by flush_mu_.
#pragma once

#include <condition_variable>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "dragonfly/storage/task_store.h"

namespace df::storage {

class TaskImpl : public Task {
 public:
  // Creates an empty task in `dir` (which must exist) or loads it from dir/meta.json.
  static StatusOr<std::shared_ptr<TaskImpl>> Create(const std::string& dir, const std::string& id,
                                                    const std::string& url);
  static StatusOr<std::shared_ptr<TaskImpl>> Load(const std::string& dir, const std::string& id);
  ~TaskImpl() override;
  TaskImpl(const TaskImpl&) = delete;
  TaskImpl& operator=(const TaskImpl&) = delete;

  const std::string& id() const override { return id_; }
  std::string data_path() const override { return dir_ + "/data"; }
  Status SetGeometry(int64_t content_length, uint32_t piece_length) override;
  TaskStat Stat() const override;
  PieceMap Map() const override;
  bool HasPiece(uint32_t n) const override;
  uint32_t PieceCrc(uint32_t n) const override;
  uint32_t PieceSize(uint32_t n) const override;
  Status WritePiece(uint32_t n, const char* data, uint32_t len, uint32_t crc) override;
  Status SetFinalLength(int64_t content_length) override;
  uint64_t ReadyBytes() const override;
  bool done() const override;
  uint64_t WaitForChange(uint64_t known_version, std::chrono::milliseconds timeout) override;
  void WakeWaiters() override;
  int read_fd() const override { return fd_; }
  Status Flush() override;
  void Touch() override;
  Status SetPersistence(const Persistence& p) override;

  const std::string& dir() const { return dir_; }
  uint64_t DiskBytes() const;
  int64_t accessed_at_ms() const;
  Persistence persistence() const;

 private:
  TaskImpl(std::string dir, std::string id) : dir_(std::move(dir)), id_(std::move(id)) {}
  static StatusOr<std::shared_ptr<TaskImpl>> LoadChecked(const std::string& dir,
                                                         const std::string& id,
                                                         const nlohmann::json& j);
  Status OpenData();
  Status SetGeometryLocked(int64_t content_length, uint32_t piece_length);
  bool HasLocked(uint32_t n) const {
    return n / 8 < bitmap_.size() && ((bitmap_[n / 8] >> (n % 8)) & 1) != 0;
  }
  void GrowLocked(uint32_t pieces);
  void UpdateDoneLocked();
  uint32_t TotalLocked() const;

  const std::string dir_;
  const std::string id_;
  int fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::string url_;
  int64_t content_length_ = -1;
  uint32_t piece_length_ = 0;
  std::vector<uint8_t> bitmap_;
  std::vector<uint32_t> crcs_;
  std::vector<uint32_t> sizes_;
  uint32_t finished_ = 0;
  uint64_t finished_bytes_ = 0;
  uint32_t next_missing_ = 0;  // first piece not stored: the end of the ready prefix
  uint64_t version_ = 0;
  uint64_t wakes_ = 0;  // WakeWaiters() calls
  bool done_ = false;
  int64_t created_at_ms_ = 0;
  int64_t accessed_at_ms_ = 0;
  Persistence persistence_;

  std::mutex flush_mu_;
};

}  // namespace df::storage
