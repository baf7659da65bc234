// PersistentCacheRegistry: holders, replication to the replica count (seed hosts first), a
// silent holder replaced, expiry, deletion remembered, exports served by holders only.
#include "dragonfly/scheduler/persistent_cache.h"

#include <gtest/gtest.h>

#include "dragonfly/common/piece.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::HostReq;

constexpr int64_t kNow = 1'800'000'000'000;  // Unix ms
const std::string kTask(64, 'c');

struct Replication {
  api::Host host;
  std::string peer_id;
  api::PersistentCacheTask task;
  ReplicaTrigger::Done done;
};

class RecordingReplicas final : public ReplicaTrigger {
 public:
  std::vector<Replication> replications;
  std::vector<std::string> deletions;  // host IDs
  void Replicate(const api::Host& host, const std::string& peer_id,
                 const api::PersistentCacheTask& task, Done done) override {
    replications.push_back({host, peer_id, task, std::move(done)});
  }
  void Delete(const api::Host& host, const std::string&, Done done) override {
    deletions.push_back(host.id());
    done(Status::Ok());
  }
};

api::PersistentCacheTask Task(uint32_t replicas = 2, int64_t expires = kNow + 3'600'000) {
  api::PersistentCacheTask t;
  t.set_task_id(kTask);
  t.set_content_length(10 << 20);
  t.set_piece_length(kMinPieceLength);
  t.set_total_pieces(3);
  t.set_digest("sha256:" + std::string(64, 'a'));
  t.set_replicas(replicas);
  t.set_expires_at_ms(expires);
  return t;
}

api::AnnouncePersistentCacheTaskRequest Holding(const std::string& host,
                                                const api::PersistentCacheTask& t = Task()) {
  api::AnnouncePersistentCacheTaskRequest r;
  r.set_host_id(host);
  r.set_peer_id(host + "-" + t.task_id().substr(0, 8));  // one peer per host and task
  *r.mutable_task() = t;
  return r;
}

class PersistentCacheTest : public testing::StateFixture {
 protected:
  void SetUp() override {
    StateFixture::SetUp();
    for (const char* h : {"importer", "other-a", "other-b"}) {
      ASSERT_TRUE(state_->AnnounceHost(HostReq(h)).ok());
    }
    ASSERT_TRUE(state_->AnnounceHost(HostReq("seed-1", true)).ok());
    PersistentCacheOptions o;
    o.holder_ttl = std::chrono::seconds(10);
    cache_ = std::make_unique<PersistentCacheRegistry>(state_.get(), &replicas_, o, &clock_,
                                                       [this] { return now_ms_; });
  }

  std::vector<std::string> Holders() {
    std::vector<std::string> out;
    const api::StatPersistentCacheTaskResponse st = cache_->Stat(TaskId(kTask));
    for (const auto& h : st.holders()) {
      out.push_back(h.host_id());
    }
    return out;
  }

  int64_t now_ms_ = kNow;
  RecordingReplicas replicas_;
  std::unique_ptr<PersistentCacheRegistry> cache_;
};

TEST_F(PersistentCacheTest, AnImportIsReplicatedToASeedHostFirstThenHeldByTwo) {
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  auto st = cache_->Stat(TaskId(kTask));
  EXPECT_TRUE(st.known());
  EXPECT_EQ(st.state(), "replicating");
  EXPECT_EQ(Holders(), std::vector<std::string>{"importer"});
  // The holder is a finished peer of the task: an export gets it as a neighbour.
  api::RegisterPeerRequest exporter = testing::PeerReq("other-a", "exporter");
  exporter.mutable_task()->set_task_id(kTask);
  exporter.mutable_task()->set_url("dfcache://" + kTask);
  auto r = state_->RegisterPeer(exporter);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->action(), api::ACTION_NEIGHBOURS);
  EXPECT_EQ(r->neighbours(0).host_id(), "importer");
  EXPECT_TRUE(calls_.empty()) << "a seed peer was triggered for a task with no origin";

  cache_->Tick();
  ASSERT_EQ(replicas_.replications.size(), 1u);
  EXPECT_EQ(replicas_.replications[0].host.id(), "seed-1");
  EXPECT_EQ(replicas_.replications[0].task.digest(), Task().digest());
  cache_->Tick();  // under way: nobody else is asked
  EXPECT_EQ(replicas_.replications.size(), 1u);
  replicas_.replications[0].done(Status::Ok());
  ASSERT_TRUE(cache_->Announce(Holding("seed-1")).ok());
  st = cache_->Stat(TaskId(kTask));
  EXPECT_EQ(st.state(), "ready");
  // Imported again with a longer TTL: every holder hears of the new expiry.
  auto longer = cache_->Announce(Holding("importer", Task(2, kNow + 7'200'000)));
  ASSERT_TRUE(longer.ok());
  EXPECT_EQ(cache_->Announce(Holding("seed-1"))->expires_at_ms(), kNow + 7'200'000);
  EXPECT_EQ(st.holders_size(), 2);
  EXPECT_EQ(st.replicating(), 0u);
}

TEST_F(PersistentCacheTest, ASilentHolderIsReplacedAndAFailedReplicaIsNotAskedAgain) {
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  ASSERT_TRUE(cache_->Announce(Holding("seed-1")).ok());
  cache_->Tick();
  EXPECT_TRUE(replicas_.replications.empty());
  // The importer keeps announcing; the seed host stops (it died).
  clock_.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  clock_.Advance(std::chrono::seconds(6));
  cache_->Tick();
  EXPECT_EQ(Holders(), std::vector<std::string>{"importer"});
  ASSERT_EQ(replicas_.replications.size(), 1u);
  const std::string first = replicas_.replications[0].host.id();
  EXPECT_NE(first, "importer");
  EXPECT_NE(first, "seed-1");  // (its host is still announced, but it is not heard of)
  replicas_.replications[0].done(Unavailable("disk full"));
  cache_->Tick();  // another host, not the one that failed
  ASSERT_EQ(replicas_.replications.size(), 2u);
  EXPECT_NE(replicas_.replications[1].host.id(), first);
}

TEST_F(PersistentCacheTest, ExpiryAndDeletionEndTheTaskEverywhere) {
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  ASSERT_TRUE(cache_->Announce(Holding("seed-1")).ok());
  auto deleted = cache_->Delete(TaskId(kTask));
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->hosts(), 2u);
  EXPECT_EQ(replicas_.deletions.size(), 2u);
  EXPECT_FALSE(cache_->Stat(TaskId(kTask)).known());
  EXPECT_EQ(cache_->Delete(TaskId(kTask)).status().code(), StatusCode::kNotFound);
  // A holder that was away hears of the deletion when it announces.
  auto again = cache_->Announce(Holding("other-a"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->deleted());
  EXPECT_FALSE(cache_->Stat(TaskId(kTask)).known());

  // Expiry: a task past its time is gone at the next tick, and announcing it again is refused.
  const std::string other(64, 'd');
  api::PersistentCacheTask t = Task(1, kNow + 5000);
  t.set_task_id(other);
  ASSERT_TRUE(cache_->Announce(Holding("importer", t)).ok());
  EXPECT_TRUE(cache_->Stat(TaskId(other)).known());
  now_ms_ += 5000;
  cache_->Tick();
  EXPECT_FALSE(cache_->Stat(TaskId(other)).known());
  EXPECT_TRUE(cache_->Announce(Holding("importer", t))->deleted());
  EXPECT_EQ(cache_->List().tasks_size(), 0);
}

// The attacker: a persistent cache task under the ID of a URL's task (dfcache import --id) would
// give that task's peers no origin, or other bytes.
TEST_F(PersistentCacheTest, AUrlTaskIdCannotBecomeAPersistentCacheTaskNorTheOtherWayRound) {
  const std::string url_task = testing::TaskIdOf("model.bin");
  ASSERT_TRUE(state_->RegisterPeer(testing::PeerReq("other-a", "downloader", "model.bin")).ok());
  api::PersistentCacheTask t = Task();
  t.set_task_id(url_task);
  EXPECT_EQ(cache_->Announce(Holding("importer", t)).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_FALSE(cache_->Stat(TaskId(url_task)).known());
  // And a URL's peers cannot join a persistent cache task.
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  api::RegisterPeerRequest as_url = testing::PeerReq("other-b", "p", "x");
  as_url.mutable_task()->set_task_id(kTask);
  EXPECT_FALSE(state_->RegisterPeer(as_url).ok());
}

TEST_F(PersistentCacheTest, AnImportAfterADeletionIsANewLife) {
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  ASSERT_TRUE(cache_->Delete(TaskId(kTask)).ok());
  EXPECT_TRUE(cache_->Announce(Holding("importer"))->deleted());  // a heartbeat: still deleted
  api::AnnouncePersistentCacheTaskRequest again = Holding("importer");
  again.set_imported(true);
  auto r = cache_->Announce(again);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->deleted());
  EXPECT_TRUE(cache_->Stat(TaskId(kTask)).known());
  // An expiry beyond dfcache's 720h is refused (it would pin replicas for ever).
  EXPECT_EQ(cache_->Announce(Holding("importer", Task(2, kNow + int64_t{800} * 3600 * 1000)))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(PersistentCacheTest, BadOrConflictingAnnouncementsAreRefused) {
  api::PersistentCacheTask t = Task();
  t.set_digest("md5:x");
  EXPECT_EQ(cache_->Announce(Holding("importer", t)).status().code(), StatusCode::kInvalidArgument);
  t = Task(0);
  EXPECT_EQ(cache_->Announce(Holding("importer", t)).status().code(), StatusCode::kInvalidArgument);
  t = Task();
  t.set_total_pieces(7);
  EXPECT_EQ(cache_->Announce(Holding("importer", t)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cache_->Announce(Holding("nobody")).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(cache_->Announce(Holding("importer")).ok());
  // Another holder cannot pass other content off under the ID.
  t = Task();
  t.set_digest("sha256:" + std::string(64, 'b'));
  EXPECT_EQ(cache_->Announce(Holding("other-a", t)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Holders(), std::vector<std::string>{"importer"});
  // An export with no holder left fails at once rather than going to an origin.
  const std::string orphan(64, 'e');
  api::RegisterPeerRequest exporter = testing::PeerReq("other-b", "exporter");
  exporter.mutable_task()->set_task_id(orphan);
  exporter.mutable_task()->set_url("dfcache://" + orphan);
  auto r = state_->RegisterPeer(exporter);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action(), api::ACTION_FAIL);
  EXPECT_TRUE(calls_.empty());
}

}  // namespace
}  // namespace df::scheduler
