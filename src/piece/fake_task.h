// Test-only in-memory Task for the piece tests: content lives in a temp file (so the server can
// sendfile it); pieces become "present" when the test says so.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "dragonfly/common/digest.h"
#include "dragonfly/storage/task_store.h"

namespace df::piece::testing {

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(rng() & 0xff);
  }
  return s;
}

class FakeTask : public storage::Task {
 public:
  FakeTask(std::string id, std::string content, uint32_t piece_length)
      : id_(std::move(id)), content_(std::move(content)), piece_length_(piece_length) {
    path_ = ::testing::TempDir() + "/piece_test_XXXXXX";
    int fd = ::mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, content_.data(), content_.size()), static_cast<ssize_t>(content_.size()));
    fd_ = fd;
    uint32_t count = static_cast<uint32_t>((content_.size() + piece_length - 1) / piece_length);
    present_.assign(count, false);
  }
  ~FakeTask() override {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  FakeTask(const FakeTask&) = delete;
  FakeTask& operator=(const FakeTask&) = delete;

  uint32_t piece_count() const { return static_cast<uint32_t>(present_.size()); }
  std::string PieceData(uint32_t n) const {
    return content_.substr(static_cast<size_t>(n) * piece_length_, PieceSize(n));
  }

  void AddPiece(uint32_t n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      present_[n] = true;
      ++version_;
      done_ = std::all_of(present_.begin(), present_.end(), [](bool b) { return b; });
    }
    cv_.notify_all();
  }
  void AddAll() {
    for (uint32_t n = 0; n < piece_count(); ++n) {
      AddPiece(n);
    }
  }
  // Blocks until `n` WaitForChange calls have started, so a test knows a long poll is parked.
  void AwaitWaiters(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiters_started_ >= n; });
  }

  const std::string& id() const override { return id_; }
  std::string data_path() const override { return path_; }
  Status SetGeometry(int64_t, uint32_t) override { return FailedPrecondition("fake"); }
  storage::TaskStat Stat() const override {
    storage::TaskStat st;
    st.task_id = id_;
    st.content_length = static_cast<int64_t>(content_.size());
    st.piece_length = piece_length_;
    st.total_pieces = piece_count();
    st.done = done();
    st.data_path = path_;
    return st;
  }
  storage::PieceMap Map() const override {
    std::lock_guard<std::mutex> lock(mu_);
    storage::PieceMap m;
    m.version = version_;
    m.content_length = static_cast<int64_t>(content_.size());
    m.piece_length = piece_length_;
    m.total_pieces = static_cast<uint32_t>(present_.size());
    m.done = done_;
    m.bitmap.assign((present_.size() + 7) / 8, 0);
    for (size_t i = 0; i < present_.size(); ++i) {
      if (present_[i]) {
        m.bitmap[i / 8] = static_cast<uint8_t>(m.bitmap[i / 8] | (1u << (i % 8)));
      }
    }
    return m;
  }
  bool HasPiece(uint32_t n) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return n < present_.size() && present_[n];
  }
  uint32_t PieceCrc(uint32_t n) const override {
    std::string d = PieceData(n);
    return Crc32c(0, d.data(), d.size());
  }
  uint32_t PieceSize(uint32_t n) const override {
    uint64_t off = static_cast<uint64_t>(n) * piece_length_;
    return off >= content_.size()
               ? 0
               : static_cast<uint32_t>(std::min<uint64_t>(piece_length_, content_.size() - off));
  }
  Status WritePiece(uint32_t, const char*, uint32_t, uint32_t) override {
    return FailedPrecondition("fake");
  }
  Status SetFinalLength(int64_t) override { return FailedPrecondition("fake"); }
  uint64_t ReadyBytes() const override { return 0; }
  bool done() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  uint64_t WaitForChange(uint64_t known_version, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiters_started_;
    cv_.notify_all();
    cv_.wait_for(lock, timeout, [&] { return version_ > known_version || done_; });
    return version_;
  }
  int read_fd() const override { return fd_; }
  Status Flush() override { return Status::Ok(); }
  void Touch() override {}

 private:
  const std::string id_;
  const std::string content_;
  const uint32_t piece_length_;
  std::string path_;
  int fd_ = -1;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<bool> present_;
  uint64_t version_ = 1;
  bool done_ = false;
  int waiters_started_ = 0;
};

}  // namespace df::piece::testing
