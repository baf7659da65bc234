// The stored-task announcer: a finished task is announced to its owner unless the owner knows it
// already -- or a download session of this host is still telling the owner about it itself.
#include "daemon/stored_tasks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/task_id.h"

namespace df::daemon {
namespace {

class RecordingScheduler : public SchedulerApi {
 public:
  bool enabled() const override { return true; }
  StatusOr<sched::RegisterPeerResponse> RegisterPeer(const sched::RegisterPeerRequest&) override {
    return Unavailable("not in this test");
  }
  Status ReportPeer(const sched::ReportPeerRequest&) override { return Status::Ok(); }
  Status LeavePeer(const sched::LeavePeerRequest&) override { return Status::Ok(); }
  Status AnnounceTask(const sched::AnnounceTaskRequest& req) override {
    std::lock_guard lock(mu_);
    announced.push_back(req.task().task_id());
    return Status::Ok();
  }
  std::mutex mu_;
  std::vector<std::string> announced;
};

class StoredTasksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("df-stored-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto store = storage::OpenTaskStore(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    TaskIdInput in;
    in.url = "http://origin/stored.bin";
    task_id_ = TaskId(*MakeTaskId(in));
    auto lease = store_->Acquire(task_id_.str(), in.url);
    ASSERT_TRUE(lease.ok());
    const std::string data(4096, 'x');
    ASSERT_TRUE((*lease)->SetGeometry(static_cast<int64_t>(data.size()), 4096).ok());
    ASSERT_TRUE((*lease)->WritePiece(0, data.data(), 4096, Crc32c(0, data.data(), 4096)).ok());
    ASSERT_TRUE((*lease)->done());
    StoredTaskAnnouncer::Options o;
    o.host_id = "10.0.0.1-host";
    o.ip = "10.0.0.1";
    o.hostname = "host";
    o.owner = [](const TaskId&) { return std::string("scheduler-1#0"); };
    o.downloading = [this](const TaskId& id) { return id == downloading_; };
    announcer_ = std::make_unique<StoredTaskAnnouncer>(*store_, scheduler_, std::move(o));
  }
  void TearDown() override {
    announcer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::TaskStore> store_;
  RecordingScheduler scheduler_;
  std::unique_ptr<StoredTaskAnnouncer> announcer_;
  TaskId task_id_;
  TaskId downloading_;  // the task a session of this host is running, if any
  const std::function<bool()> never_stop_ = [] { return false; };
};

TEST_F(StoredTasksTest, AStoredTaskTheOwnerDoesNotKnowIsAnnouncedOnce) {
  EXPECT_EQ(announcer_->Sweep(never_stop_).announced, 1u);
  EXPECT_EQ(scheduler_.announced, std::vector<std::string>{task_id_.str()});
  EXPECT_EQ(announcer_->Sweep(never_stop_).announced, 0u);  // the owner knows it now
}

TEST_F(StoredTasksTest, ATaskStillBeingDownloadedHereIsLeftToItsSession) {
  // The last piece is stored (the task is done) but the session has not reported yet: a sweep
  // now would make a second peer of this host for the task.
  downloading_ = task_id_;
  EXPECT_EQ(announcer_->Sweep(never_stop_).announced, 0u);
  // The session reports and tells the announcer, then ends.
  announcer_->Known(task_id_);
  downloading_ = TaskId();
  EXPECT_EQ(announcer_->Sweep(never_stop_).announced, 0u);
  EXPECT_TRUE(scheduler_.announced.empty());
}

TEST_F(StoredTasksTest, ASessionThatEndedWithoutTellingTheOwnerLeavesItToTheSweep) {
  downloading_ = task_id_;
  EXPECT_EQ(announcer_->Sweep(never_stop_).announced, 0u);
  downloading_ = TaskId();  // its final report failed: no Known()
  EXPECT_EQ(announcer_->Sweep(never_stop_).announced, 1u);
}

}  // namespace
}  // namespace df::daemon
