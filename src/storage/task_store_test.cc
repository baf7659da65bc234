#include "dragonfly/storage/task_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"

namespace df::storage {
namespace {

constexpr uint32_t kPiece = 64 * 1024;  // small pieces keep the test fast
const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class TaskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/df-store-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    data_.resize(3 * kPiece + 100);
    std::mt19937 rng(42);
    for (auto& c : data_) {
      c = static_cast<char>(rng());
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Status Write(Task& t, uint32_t n) {
    uint32_t len = PieceSize(static_cast<int64_t>(data_.size()), kPiece, n);
    const char* p = data_.data() + PieceOffset(kPiece, n);
    return t.WritePiece(n, p, len, Crc32c(0, p, len));
  }

  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  std::string dir_;
  std::string data_;
};

TEST_F(TaskStoreTest, PiecesSurviveRestart) {
  {
    auto store = OpenTaskStore(dir_);
    ASSERT_TRUE(store.ok());
    auto lease = (*store)->Acquire(kId, "http://o/f");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
    ASSERT_TRUE(Write(**lease, 0).ok());
    ASSERT_TRUE(Write(**lease, 2).ok());
    ASSERT_TRUE((*lease)->Flush().ok());
    EXPECT_EQ((*lease)->ReadyBytes(), kPiece);
    EXPECT_FALSE((*lease)->done());
  }
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->AcquireExisting(kId);
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE((*lease)->HasPiece(0));
  EXPECT_FALSE((*lease)->HasPiece(1));
  EXPECT_TRUE((*lease)->HasPiece(2));
  EXPECT_EQ((*lease)->Stat().finished_pieces, 2u);
  ASSERT_TRUE(Write(**lease, 1).ok());
  ASSERT_TRUE(Write(**lease, 3).ok());
  EXPECT_TRUE((*lease)->done());
  EXPECT_EQ((*lease)->ReadyBytes(), data_.size());
  EXPECT_EQ(ReadFile((*lease)->data_path()), data_);
}

TEST_F(TaskStoreTest, AfterRebootPiecesAreVerified) {
  std::string data_path;
  {
    auto store = OpenTaskStore(dir_);
    ASSERT_TRUE(store.ok());
    auto lease = (*store)->Acquire(kId, "http://o/f");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
    ASSERT_TRUE(Write(**lease, 0).ok());
    ASSERT_TRUE(Write(**lease, 1).ok());
    ASSERT_TRUE((*lease)->Flush().ok());
    data_path = (*lease)->data_path();
  }
  // Simulate a power loss after a reboot: piece 1's bytes never reached the disk, and the
  // metadata was written in another boot.
  {
    std::fstream f(data_path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kPiece + 10);
    f.put('\x55');
    f.put('\x66');
  }
  std::string meta_path = dir_ + "/" + kId + "/meta.json";
  std::string meta = ReadFile(meta_path);
  auto at = meta.find("\"boot_id\":\"");
  ASSERT_NE(at, std::string::npos);
  meta.replace(at + 11, 4, "zzzz");
  std::ofstream(meta_path, std::ios::trunc) << meta;

  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->AcquireExisting(kId);
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE((*lease)->HasPiece(0));
  EXPECT_FALSE((*lease)->HasPiece(1));
}

// Metadata with the wrong JSON types or absurd values (a hand edit, a bug, an attacker with
// the daemon's uid) discards that task only; the store still opens.
TEST_F(TaskStoreTest, MalformedMetadataDiscardsTheTaskNotTheStore) {
  const std::string id2 = std::string(63, '1') + "2";
  for (
      const char* bad : {
          R"({"task_id":"ID","content_length":"x","piece_length":65536})",
          R"({"task_id":"ID","content_length":100,"piece_length":-1})",
          R"({"task_id":"ID","content_length":100,"piece_length":65536,"pieces":[["a",1,2]]})",
          R"({"task_id":"ID","content_length":100,"piece_length":65536,"pieces":{"x":1}})",
          R"({"task_id":"ID","content_length":-1,"piece_length":65536,"pieces":[[4294967295,1,2]]})",
          R"({"task_id":"ID","content_length":9007199254740991,"piece_length":1})",
          R"({"task_id":5})",
          R"([1,2,3])",
      }) {
    SCOPED_TRACE(bad);
    {
      auto store = OpenTaskStore(dir_);
      ASSERT_TRUE(store.ok());
      for (const auto& id : {kId, id2}) {
        auto lease = (*store)->Acquire(id, "http://o/f");
        ASSERT_TRUE(lease.ok());
        ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
        ASSERT_TRUE(Write(**lease, 0).ok());
        ASSERT_TRUE((*lease)->Flush().ok());
      }
    }
    std::string meta = bad;
    if (auto at = meta.find("ID"); at != std::string::npos) {
      meta.replace(at, 2, kId);
    }
    std::ofstream(dir_ + "/" + kId + "/meta.json", std::ios::trunc) << meta;
    auto store = OpenTaskStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_FALSE((*store)->AcquireExisting(kId).ok());
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/" + kId));
    auto kept = (*store)->AcquireExisting(id2);
    ASSERT_TRUE(kept.ok());
    EXPECT_TRUE((*kept)->HasPiece(0));
  }
}

// Task data is readable by the daemon's user and group only (dfget reads it), metadata by the
// user only.
TEST_F(TaskStoreTest, FilesArePrivate) {
  namespace fs = std::filesystem;
  std::string root = dir_ + "/store";
  auto store = OpenTaskStore(root);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->Acquire(kId, "http://o/f");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
  ASSERT_TRUE(Write(**lease, 0).ok());
  ASSERT_TRUE((*lease)->Flush().ok());
  auto mode = [](const std::string& p) { return fs::status(p).permissions() & fs::perms::all; };
  const fs::perms dir = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec;
  EXPECT_EQ(mode(root), dir);
  EXPECT_EQ(mode(root + "/" + kId), dir);
  EXPECT_EQ(mode((*lease)->data_path()),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(mode(root + "/" + kId + "/meta.json"), fs::perms::owner_read | fs::perms::owner_write);
}

// Geometry a peer or a file could lie about is bounded.
TEST_F(TaskStoreTest, GeometryIsBounded) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->Acquire(kId, "http://o/f");
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE((*lease)->SetGeometry(int64_t{1} << 40, 1).ok());
  EXPECT_FALSE((*lease)->SetGeometry(100, kMaxPieceLength + 1).ok());
  ASSERT_TRUE((*lease)->SetGeometry(kUnknownLength, kPiece).ok());
  std::string piece(16, 'x');
  EXPECT_FALSE(
      (*lease)->WritePiece(kMaxPieces, piece.data(), 16, Crc32c(0, piece.data(), 16)).ok());
}

TEST_F(TaskStoreTest, CorruptPieceRejected) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
  std::string bad = data_.substr(0, kPiece);
  uint32_t crc = Crc32c(0, bad.data(), bad.size());
  bad[100] ^= 1;
  Status s = (*lease)->WritePiece(0, bad.data(), kPiece, crc);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_FALSE((*lease)->HasPiece(0));
  // Wrong length for a known geometry.
  EXPECT_FALSE((*lease)->WritePiece(3, data_.data(), 10, Crc32c(0, data_.data(), 10)).ok());
}

TEST_F(TaskStoreTest, UnknownLengthThenFinal) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->SetGeometry(kUnknownLength, kPiece).ok());
  for (uint32_t n = 0; n < 4; ++n) {
    ASSERT_TRUE(Write(**lease, n).ok());
  }
  EXPECT_FALSE((*lease)->done());
  EXPECT_EQ((*lease)->Map().total_pieces, 0u);
  ASSERT_TRUE((*lease)->SetFinalLength(static_cast<int64_t>(data_.size())).ok());
  EXPECT_TRUE((*lease)->done());
  EXPECT_EQ((*lease)->Map().total_pieces, 4u);
  EXPECT_EQ(ReadFile((*lease)->data_path()), data_);
}

TEST_F(TaskStoreTest, EmptyTaskIsDoneAtOnce) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->SetGeometry(0, kPiece).ok());
  EXPECT_TRUE((*lease)->done());
  EXPECT_EQ((*lease)->ReadyBytes(), 0u);
}

TEST_F(TaskStoreTest, WaitForChangeWakesOnPiece) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto lease = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
  uint64_t v = (*lease)->Map().version;
  std::thread writer([&] { ASSERT_TRUE(Write(**lease, 1).ok()); });
  uint64_t got = (*lease)->WaitForChange(v, std::chrono::seconds(30));
  writer.join();
  EXPECT_GT(got, v);
  EXPECT_TRUE((*lease)->Map().Has(1));
}

TEST_F(TaskStoreTest, DiscardHidesAtOnceAndDeletesOnLastRelease) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  auto first = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
  ASSERT_TRUE(Write(**first, 0).ok());
  auto second = (*store)->AcquireExisting(kId);
  ASSERT_TRUE(second.ok());
  std::string task_dir = std::filesystem::path((*first)->data_path()).parent_path().string();
  ASSERT_TRUE((*store)->Discard(kId).ok());
  // Hidden at once, though two leases still hold it.
  EXPECT_EQ((*store)->Stat(kId).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE((*store)->List().empty());
  EXPECT_EQ((*store)->AcquireExisting(kId).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store)->Acquire(kId, "u").status().code(), StatusCode::kUnavailable);
  first->Reset();
  EXPECT_TRUE(std::filesystem::exists(task_dir));
  second->Reset();  // the last lease: deleted now
  EXPECT_FALSE(std::filesystem::exists(task_dir));
  // A fresh task under the same ID starts empty.
  auto again = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->Stat().finished_pieces, 0u);
  EXPECT_EQ((*store)->Discard(std::string(64, 'f')).code(), StatusCode::kNotFound);
}

TEST_F(TaskStoreTest, DeleteAndGcRespectLeases) {
  auto store = OpenTaskStore(dir_);
  ASSERT_TRUE(store.ok());
  const std::string other = std::string(64, 'a');
  {
    auto lease = (*store)->Acquire(other, "u2");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
    for (uint32_t n = 0; n < 4; ++n) {
      ASSERT_TRUE(Write(**lease, n).ok());
    }
  }
  auto lease = (*store)->Acquire(kId, "u");
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
  ASSERT_TRUE(Write(**lease, 0).ok());
  EXPECT_EQ((*store)->Delete(kId).code(), StatusCode::kFailedPrecondition);

  // Over the watermark: only the task not in use is evicted.
  GcPolicy policy;
  policy.capacity_bytes = data_.size();
  policy.disk_high_percent = 50;
  policy.disk_low_percent = 10;
  GcResult r = (*store)->RunGc(policy);
  EXPECT_EQ(r.evicted, 1);
  EXPECT_FALSE((*store)->Stat(other).ok());
  EXPECT_TRUE((*store)->Stat(kId).ok());

  // TTL: once released, an expired task goes.
  lease->Reset();
  policy = GcPolicy{};
  policy.task_ttl = std::chrono::milliseconds(-1);
  r = (*store)->RunGc(policy);
  EXPECT_EQ(r.evicted, 1);
  EXPECT_TRUE((*store)->List().empty());
  EXPECT_FALSE((*store)->Acquire("../etc", "u").ok());
}

// A persistent cache task (dfcache import) outlives the TTL and the watermarks, survives a
// restart, and goes once its own expiry has passed.
TEST_F(TaskStoreTest, APersistentTaskStaysUntilItsExpiryThenGoes) {
  const std::string other = std::string(64, 'b');
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  {
    auto store = OpenTaskStore(dir_);
    ASSERT_TRUE(store.ok());
    for (const std::string& id : {kId, other}) {
      auto lease = (*store)->Acquire(id, "dfcache://" + id);
      ASSERT_TRUE(lease.ok());
      ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data_.size()), kPiece).ok());
      for (uint32_t n = 0; n < 4; ++n) {
        ASSERT_TRUE(Write(**lease, n).ok());
      }
    }
    auto lease = (*store)->AcquireExisting(kId);
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetPersistence({now + 3600 * 1000, 2, "v1", "train", "sha256:ab"}).ok());
  }
  auto store = OpenTaskStore(dir_);  // a restart
  ASSERT_TRUE(store.ok());
  auto st = (*store)->Stat(kId);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->persistence.expires_at_ms, now + 3600 * 1000);
  EXPECT_EQ(st->persistence.replicas, 2u);
  EXPECT_EQ(st->persistence.tag, "v1");
  EXPECT_EQ(st->persistence.application, "train");
  EXPECT_EQ(st->persistence.digest, "sha256:ab");
  EXPECT_FALSE((*store)->Stat(other)->persistence.persistent());

  // Expired by the ordinary TTL and over every watermark: only the ordinary task goes.
  GcPolicy policy;
  policy.task_ttl = std::chrono::milliseconds(-1);
  policy.capacity_bytes = 1;
  policy.disk_high_percent = 1;
  policy.disk_low_percent = 0;
  EXPECT_EQ((*store)->RunGc(policy).evicted, 1);
  EXPECT_TRUE((*store)->Stat(kId).ok());
  EXPECT_FALSE((*store)->Stat(other).ok());

  // Past its own expiry it goes, even with the default policy (and not while in use).
  {
    auto lease = (*store)->AcquireExisting(kId);
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetPersistence({now - 1, 2, "v1", "train", "sha256:ab"}).ok());
    EXPECT_EQ((*store)->RunGc(GcPolicy{}).evicted, 0);
  }
  GcResult r = (*store)->RunGc(GcPolicy{});
  EXPECT_EQ(r.evicted, 1);
  EXPECT_GT(r.freed_bytes, 0u);
  EXPECT_TRUE((*store)->List().empty());
}

}  // namespace
}  // namespace df::storage
