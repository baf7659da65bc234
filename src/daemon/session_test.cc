// The download session's dialogue with the scheduler, with a fake scheduler and a fake swarm:
// neighbours handed out are connected, a stall or the loss of every neighbour asks for others
// (failed ones blocked), repeated stalls ask for the origin, and a scheduler outage does not stop
// a download that has neighbours.
#include "daemon/session.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>

#include "daemon/metrics.h"
#include "daemon/scheduler_api.h"
#include "dragonfly/common/digest.h"

namespace df::daemon {
namespace {

using std::chrono::milliseconds;
constexpr uint32_t kPiece = 4096;
constexpr uint32_t kPieces = 4;
const std::string kTask(64, 'd');

// Answers RegisterPeer from a script (the last answer repeats) and records every request.
class FakeScheduler : public SchedulerApi {
 public:
  bool enabled() const override { return true; }
  StatusOr<sched::RegisterPeerResponse> RegisterPeer(
      const sched::RegisterPeerRequest& req) override {
    std::lock_guard lock(mu_);
    registrations_.push_back(req);
    cv_.notify_all();
    if (script_.size() > 1) {
      auto r = script_.front();
      script_.pop_front();
      return r;
    }
    return script_.front();
  }
  Status ReportPeer(const sched::ReportPeerRequest& req) override {
    std::lock_guard lock(mu_);
    reports_.push_back(req);
    return report_status_;
  }
  // What ReportPeer answers from now on.
  void AnswerReports(Status s) {
    std::lock_guard lock(mu_);
    report_status_ = std::move(s);
  }
  Status LeavePeer(const sched::LeavePeerRequest&) override { return Status::Ok(); }

  void Script(std::vector<StatusOr<sched::RegisterPeerResponse>> answers) {
    std::lock_guard lock(mu_);
    script_.assign(answers.begin(), answers.end());
  }
  // Waits for the n-th registration (1-based) and returns it.
  sched::RegisterPeerRequest WaitRegistration(size_t n) {
    std::unique_lock lock(mu_);
    bool ok =
        cv_.wait_for(lock, std::chrono::seconds(10), [&] { return registrations_.size() >= n; });
    EXPECT_TRUE(ok) << "registration " << n << " never came";
    return ok ? registrations_[n - 1] : sched::RegisterPeerRequest();
  }
  size_t registrations() {
    std::lock_guard lock(mu_);
    return registrations_.size();
  }
  std::vector<sched::ReportPeerRequest> reports() {
    std::lock_guard lock(mu_);
    return reports_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StatusOr<sched::RegisterPeerResponse>> script_;
  std::vector<sched::RegisterPeerRequest> registrations_;
  std::vector<sched::ReportPeerRequest> reports_;
  Status report_status_;
};

// A swarm whose neighbours the test plays: it records what the session connects to, and the
// test delivers pieces or makes neighbours leave through the session's observer.
class FakeSwarm : public piece::Swarm, public piece::SwarmSession {
 public:
  uint16_t port() const override { return 1; }
  int connections() const override { return 0; }
  int active_uploads() const override { return 0; }
  std::unique_ptr<piece::SwarmSession> Join(storage::TaskLease, piece::JoinOptions o) override {
    std::lock_guard lock(mu_);
    observer_ = o.observer;
    downloading_ = o.download;
    struct Handle : piece::SwarmSession {
      explicit Handle(FakeSwarm* swarm) : fake(swarm) {}
      ~Handle() override {
        std::lock_guard lock(fake->mu_);
        fake->observer_ = nullptr;
      }
      void Connect(std::vector<piece::NeighbourAddr> n, std::string token) override {
        fake->Connect(std::move(n), std::move(token));
      }
      void SetDownloading(bool d) override { fake->SetDownloading(d); }
      void PieceStored(uint32_t n) override { fake->PieceStored(n); }
      void GeometryKnown() override {}
      std::vector<piece::NeighbourStats> TakeStats() override { return fake->TakeStats(); }
      size_t neighbours() override { return fake->neighbours(); }
      FakeSwarm* fake;
    };
    return std::make_unique<Handle>(this);
  }
  void Evict(const std::string&) override {}
  void SetUploadSlots(uint32_t) override {}
  void Stop() override {}

  void Connect(std::vector<piece::NeighbourAddr> n, std::string token) override {
    std::lock_guard lock(mu_);
    token_ = std::move(token);
    for (auto& a : n) {
      connected_.push_back(a.peer_id);
      alive_.insert(a.peer_id);
    }
    cv_.notify_all();
  }
  void SetDownloading(bool d) override {
    std::lock_guard lock(mu_);
    downloading_ = d;
  }
  void PieceStored(uint32_t) override {}
  void GeometryKnown() override {}
  std::vector<piece::NeighbourStats> TakeStats() override {
    piece::NeighbourStats s;
    s.peer_id = "a";
    s.bytes_received = 100;
    return {s};
  }
  size_t neighbours() override {
    std::lock_guard lock(mu_);
    return alive_.size();
  }

  bool WaitConnected(const std::string& peer) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] {
      return std::find(connected_.begin(), connected_.end(), peer) != connected_.end();
    });
  }
  void Gone(const std::string& peer, bool failed) {
    piece::ExchangeObserver* o = nullptr;
    {
      std::lock_guard lock(mu_);
      alive_.erase(peer);
      o = observer_;
    }
    o->OnNeighbourGone(peer, failed, failed ? DataLoss("corrupt piece") : Unavailable("left"));
  }
  // Stores piece n in `task` as if it came from `peer`, and tells the session.
  void Deliver(storage::Task& task, uint32_t n, const std::string& peer) {
    std::string d(kPiece, static_cast<char>('a' + n));
    ASSERT_TRUE(task.WritePiece(n, d.data(), kPiece, Crc32c(0, d.data(), kPiece)).ok());
    piece::ExchangeObserver* o = nullptr;
    {
      std::lock_guard lock(mu_);
      o = observer_;
    }
    ASSERT_NE(o, nullptr);
    o->OnPieceStored(n, kPiece, peer, false);
  }
  bool downloading() {
    std::lock_guard lock(mu_);
    return downloading_;
  }
  std::string token() {
    std::lock_guard lock(mu_);
    return token_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  piece::ExchangeObserver* observer_ = nullptr;
  bool downloading_ = false;
  std::vector<std::string> connected_;
  std::set<std::string> alive_;
  std::string token_;  // of the last Connect
};

sched::RegisterPeerResponse Neighbours(std::vector<std::string> ids) {
  sched::RegisterPeerResponse r;
  r.set_action(sched::ACTION_NEIGHBOURS);
  r.set_piece_token("grant-with");
  for (const auto& id : ids) {
    r.set_piece_token(r.piece_token() + "-" + id);
    auto* n = r.add_neighbours();
    n->set_peer_id(id);
    n->set_ip("10.0.0.9");
    n->set_piece_port(4005);
  }
  return r;
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("df-session-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::move(storage::OpenTaskStore(dir_.string())).value();
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<DaemonMetrics>(registry_);
    config_.download.stall_timeout = milliseconds(300);
    ctx_.config = &config_;
    ctx_.store = store_.get();
    ctx_.metrics = metrics_.get();
    ctx_.scheduler = &scheduler_;
    ctx_.swarm = &swarm_;
    ctx_.host_id = "10.0.0.1-me";
  }
  void TearDown() override {
    session_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartSession() {
    auto lease = store_->Acquire(kTask, "http://origin/f");
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE((*lease)->SetGeometry(kPiece * kPieces, kPiece).ok());
    DownloadOptions o;
    o.spec.set_task_id(kTask);
    o.spec.set_url("http://origin/f");
    o.peer_id = "me";
    session_ = std::make_unique<DownloadSession>(&ctx_, o, std::move(lease).value());
    session_->Start([this](DownloadSession*) {
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
  }
  bool WaitDone() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_; });
  }
  void DeliverAll(const std::string& peer) {
    for (uint32_t n = 0; n < kPieces; ++n) {
      swarm_.Deliver(session_->task(), n, peer);
    }
  }

  std::filesystem::path dir_;
  DaemonConfig config_;
  std::unique_ptr<storage::TaskStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<DaemonMetrics> metrics_;
  FakeScheduler scheduler_;
  FakeSwarm swarm_;
  DaemonContext ctx_;
  std::unique_ptr<DownloadSession> session_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

TEST_F(SessionTest, AStallAsksForOtherNeighbours) {
  scheduler_.Script({Neighbours({"a"}), Neighbours({"b"})});
  StartSession();
  ASSERT_TRUE(swarm_.WaitConnected("a"));
  swarm_.Deliver(session_->task(), 0, "a");  // some progress, then silence
  sched::RegisterPeerRequest again = scheduler_.WaitRegistration(2);
  ASSERT_EQ(again.connected_size(), 1) << "the scheduler hands out others than the ones we have";
  EXPECT_EQ(again.connected(0), "a");
  EXPECT_FALSE(again.need_back_to_source());
  ASSERT_TRUE(swarm_.WaitConnected("b"));
  EXPECT_EQ(swarm_.token(), "grant-with-b") << "neighbours are dialed with the latest grant";
  for (uint32_t n = 1; n < kPieces; ++n) {
    swarm_.Deliver(session_->task(), n, "b");
  }
  ASSERT_TRUE(WaitDone());
  EXPECT_TRUE(session_->result().ok()) << session_->result().ToString();
  EXPECT_EQ(session_->bytes().remote_peer, kPiece * kPieces);
}

TEST_F(SessionTest, LosingEveryNeighbourAsksAgainAndFailedOnesAreBlocked) {
  scheduler_.Script({Neighbours({"a", "b"}), Neighbours({"c"})});
  StartSession();
  ASSERT_TRUE(swarm_.WaitConnected("b"));
  swarm_.Gone("a", /*failed=*/true);
  EXPECT_EQ(scheduler_.registrations(), 1u) << "B is still there";
  swarm_.Gone("b", /*failed=*/false);
  sched::RegisterPeerRequest again = scheduler_.WaitRegistration(2);
  ASSERT_EQ(again.blocked_neighbours_size(), 1);
  EXPECT_EQ(again.blocked_neighbours(0), "a");
  EXPECT_EQ(again.connected_size(), 0);
  ASSERT_TRUE(swarm_.WaitConnected("c"));
  DeliverAll("c");
  ASSERT_TRUE(WaitDone());
  EXPECT_TRUE(session_->result().ok());
}

TEST_F(SessionTest, RoundsWithoutProgressAskForTheOrigin) {
  scheduler_.Script({Neighbours({"a"})});
  StartSession();
  sched::RegisterPeerRequest r;
  for (size_t n = 2; n <= 4; ++n) {
    r = scheduler_.WaitRegistration(n);
  }
  EXPECT_TRUE(r.need_back_to_source()) << "three stalled rounds without a piece";
  session_->Cancel();
  ASSERT_TRUE(WaitDone());
  EXPECT_EQ(session_->result().code(), StatusCode::kCancelled);
}

// The scheduler that owns the task now (the previous one died, or it came back without state)
// does not know this peer: the session registers with it again, with its progress and the
// neighbours it keeps trading with.
TEST_F(SessionTest, AReportTheSchedulerDoesNotKnowRegistersAgainWithProgress) {
  config_.download.stall_timeout = std::chrono::seconds(30);  // no round ends by a stall
  scheduler_.Script({Neighbours({"a", "b", "c", "d"})});      // nor by a top-up
  StartSession();
  ASSERT_TRUE(swarm_.WaitConnected("d"));
  swarm_.Deliver(session_->task(), 0, "a");
  swarm_.Deliver(session_->task(), 1, "b");
  scheduler_.AnswerReports(NotFound("peer me is not registered"));
  sched::RegisterPeerRequest again = scheduler_.WaitRegistration(2);
  EXPECT_FALSE(scheduler_.reports().empty()) << "registered again before any report";
  EXPECT_EQ(again.finished_pieces(), 2u);
  EXPECT_EQ(again.total_pieces(), kPieces);
  EXPECT_EQ(again.piece_length(), kPiece);
  EXPECT_EQ(again.content_length(), kPiece * kPieces);
  EXPECT_EQ(again.connected_size(), 4);
  EXPECT_FALSE(again.need_back_to_source());
  EXPECT_FALSE(again.seed());
  scheduler_.AnswerReports(Status::Ok());
  swarm_.Deliver(session_->task(), 2, "c");
  swarm_.Deliver(session_->task(), 3, "d");
  ASSERT_TRUE(WaitDone());
  EXPECT_TRUE(session_->result().ok()) << session_->result().ToString();
}

TEST_F(SessionTest, ASchedulerOutageDoesNotStopADownloadThatHasNeighbours) {
  scheduler_.Script({Neighbours({"a"}), Unavailable("scheduler down")});
  StartSession();
  ASSERT_TRUE(swarm_.WaitConnected("a"));
  swarm_.Deliver(session_->task(), 0, "a");
  scheduler_.WaitRegistration(3);  // asked again after a stall, and it is down
  for (uint32_t n = 1; n < kPieces; ++n) {
    swarm_.Deliver(session_->task(), n, "a");
  }
  ASSERT_TRUE(WaitDone());
  EXPECT_TRUE(session_->result().ok()) << session_->result().ToString();
  EXPECT_EQ(session_->bytes().back_to_source, 0u);
  // Progress reports carry the neighbours' counters.
  bool stats = false;
  for (const auto& rep : scheduler_.reports()) {
    stats = stats || rep.neighbours_size() > 0;
  }
  EXPECT_TRUE(stats);
}

}  // namespace
}  // namespace df::daemon
