#include "dragonfly/scheduler/state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::FakeClock;
using testing::HostReq;
using testing::PeerReq;
using testing::RecordingTrigger;
using testing::TaskIdOf;
using testing::TriggerCall;

class StateTest : public ::testing::Test {
 protected:
  void Make(SchedulerOptions opts = {}) {
    state_ = std::make_unique<SchedulerState>(opts, std::make_unique<RecordingTrigger>(&calls_),
                                              &clock_);
  }
  void SetUp() override { Make(); }

  void Announce(const std::string& id, bool seed = false, uint32_t slots = 10,
                const std::string& idc = "", const std::string& location = "") {
    ASSERT_TRUE(state_->AnnounceHost(HostReq(id, seed, slots, idc, location)).ok());
  }
  api::RegisterPeerResponse Register(const api::RegisterPeerRequest& req) {
    auto r = state_->RegisterPeer(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : api::RegisterPeerResponse();
  }
  api::RegisterPeerResponse Register(const std::string& host, const std::string& peer,
                                     std::vector<std::string> blocked = {}, bool need = false) {
    return Register(PeerReq(host, peer, "task1", std::move(blocked), need));
  }
  static std::vector<std::string> Neighbours(const api::RegisterPeerResponse& r) {
    std::vector<std::string> out;
    for (const auto& p : r.neighbours()) {
      out.push_back(p.peer_id());
    }
    return out;
  }
  void Report(const std::string& host, const std::string& peer, api::PeerState st,
              std::vector<api::NeighbourStat> stats = {}) {
    api::ReportPeerRequest r;
    r.set_host_id(host);
    r.set_peer_id(peer);
    r.set_task_id(TaskIdOf("task1"));
    r.set_state(st);
    r.set_content_length(100);
    r.set_total_pieces(10);
    r.set_finished_pieces(st == api::PEER_STATE_SUCCEEDED ? 10 : 3);
    for (auto& s : stats) {
      *r.add_neighbours() = s;
    }
    ASSERT_TRUE(state_->ReportPeer(r).ok());
  }

  FakeClock clock_;
  std::vector<TriggerCall> calls_;
  std::unique_ptr<SchedulerState> state_;
};

TEST_F(StateTest, UnknownHostIsFailedPrecondition) {
  auto r = state_->RegisterPeer(PeerReq("nohost", "p1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("host not announced"), std::string::npos);
}

// Task poisoning: a host registers a victim's task ID with its own URL. It is refused, and the
// seed is told to fetch the URL the ID names, never the attacker's.
// One client cannot grow the scheduler's state without bound: past each cap a clear
// ResourceExhausted, while what is already known keeps working.
TEST_F(StateTest, StateIsBoundedWithAClearError) {
  SchedulerOptions o;
  o.max_hosts = 3;
  o.max_tasks = 2;
  o.max_peers_per_task = 2;
  o.max_peers_per_host = 2;
  Make(o);
  Announce("A");
  Announce("B");
  Announce("C");
  auto full = state_->AnnounceHost(HostReq("D"));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("scheduler.maxHosts"), std::string::npos);
  Announce("A");  // a known host announces again
  Register(PeerReq("A", "a1", "t1"));
  Register(PeerReq("A", "a2", "t2"));
  EXPECT_EQ(state_->RegisterPeer(PeerReq("A", "a3", "t1")).status().code(),
            StatusCode::kResourceExhausted);  // A's third peer
  EXPECT_EQ(state_->RegisterPeer(PeerReq("B", "b1", "t3")).status().code(),
            StatusCode::kResourceExhausted);  // a third task
  Register(PeerReq("B", "b1", "t1"));
  EXPECT_EQ(state_->RegisterPeer(PeerReq("C", "c1", "t1")).status().code(),
            StatusCode::kResourceExhausted);  // t1's third peer
  Register(PeerReq("A", "a1", "t1"));         // a known peer registers again
}

TEST_F(StateTest, ARegistrationWhoseSpecDoesNotNameItsIdIsRefused) {
  Announce("S", true);
  Announce("A");
  Announce("V");
  api::RegisterPeerRequest evil = PeerReq("A", "a");
  evil.mutable_task()->set_url("http://attacker/evil.bin");
  auto r = state_->RegisterPeer(evil);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(calls_.empty());
  // A blob task may name any repository's URL of that digest, and no other.
  api::RegisterPeerRequest blob = PeerReq("A", "a2");
  blob.mutable_task()->set_task_id(std::string(64, 'c'));
  blob.mutable_task()->set_url("http://registry/v2/x/blobs/sha256:" + std::string(64, 'd'));
  EXPECT_EQ(state_->RegisterPeer(blob).status().code(), StatusCode::kPermissionDenied);
  blob.mutable_task()->set_url("http://registry/v2/x/blobs/sha256:" + std::string(64, 'c'));
  EXPECT_TRUE(state_->RegisterPeer(blob).ok());
  // The victim's registration reaches the seed with the real URL.
  Register(PeerReq("V", "v"));
  auto it = std::find_if(calls_.begin(), calls_.end(), [](const TriggerCall& c) {
    return c.spec.task_id() == TaskIdOf("task1");
  });
  ASSERT_NE(it, calls_.end());
  EXPECT_EQ(it->spec.url(), "http://origin/task1");
}

TEST_F(StateTest, WithoutSeedsFirstPeerGoesToSourceAndFeedsTheNext) {
  Announce("A");
  Announce("B");
  auto a = Register("A", "a");
  EXPECT_EQ(a.action(), api::ACTION_BACK_TO_SOURCE);
  auto b = Register("B", "b");
  ASSERT_EQ(b.action(), api::ACTION_NEIGHBOURS);
  EXPECT_EQ(Neighbours(b), std::vector<std::string>{"a"});
  EXPECT_EQ(b.neighbours(0).host_id(), "A");
  EXPECT_EQ(b.neighbours(0).piece_port(), 4000u);
  EXPECT_TRUE(calls_.empty());
}

TEST_F(StateTest, SeedChosenByConsistentHashIsStableAndSpread) {
  for (int i = 0; i < 3; ++i) {
    Announce("seed" + std::to_string(i), true);
  }
  Announce("N");
  // A second state with the seeds announced in another order picks the same seeds.
  std::vector<TriggerCall> other_calls;
  SchedulerState other({}, std::make_unique<RecordingTrigger>(&other_calls), &clock_);
  for (int i = 2; i >= 0; --i) {
    ASSERT_TRUE(other.AnnounceHost(HostReq("seed" + std::to_string(i), true)).ok());
  }
  ASSERT_TRUE(other.AnnounceHost(HostReq("N")).ok());
  std::map<std::string, int> per_seed;
  for (int t = 0; t < 60; ++t) {
    std::string task = "task-" + std::to_string(t);
    auto r = Register(PeerReq("N", "p" + std::to_string(t), task));
    EXPECT_EQ(r.action(), api::ACTION_RETRY);
    ASSERT_TRUE(other.RegisterPeer(PeerReq("N", "q" + std::to_string(t), task)).ok());
    ASSERT_EQ(calls_.size(), static_cast<size_t>(t + 1));
    ASSERT_EQ(other_calls.size(), static_cast<size_t>(t + 1));
    EXPECT_EQ(calls_.back().host.id(), other_calls.back().host.id());
    EXPECT_EQ(calls_.back().spec.task_id(), TaskIdOf(task));
    ++per_seed[calls_.back().host.id()];
  }
  EXPECT_EQ(per_seed.size(), 3u);
  for (const auto& [seed, n] : per_seed) {
    EXPECT_GE(n, 5) << seed;
  }
}

// A dual-stack parent is handed out with the family the requesting host reached the scheduler
// over first; the seed is triggered at the address of the family it reached us over.
TEST_F(StateTest, ParentAddressesInTheRequestersFamilyFirst) {
  auto dual = [](const std::string& id, bool seed, const std::string& v4, const std::string& v6) {
    api::AnnounceHostRequest r = HostReq(id, seed);
    r.mutable_host()->set_ip(v4);
    r.mutable_host()->add_ips(v4);
    r.mutable_host()->add_ips(v6);
    return r;
  };
  ASSERT_TRUE(
      state_->AnnounceHost(dual("S", true, "10.0.0.1", "FD00::1"), net::Family::kIPv6).ok());
  ASSERT_TRUE(
      state_->AnnounceHost(dual("A", false, "10.0.0.2", "fd00::2"), net::Family::kIPv6).ok());
  ASSERT_TRUE(
      state_->AnnounceHost(dual("B", false, "10.0.0.3", "fd00::3"), net::Family::kIPv4).ok());
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_RETRY);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].host.ip(), "fd00::1");  // canonical, the family S reached us over
  calls_[0].done(Status::Ok());
  EXPECT_EQ(Register("S", calls_[0].peer_id).action(), api::ACTION_BACK_TO_SOURCE);

  auto a = Register("A", "a");
  ASSERT_EQ(a.action(), api::ACTION_NEIGHBOURS);
  EXPECT_EQ(a.neighbours(0).ip(), "fd00::1");
  EXPECT_EQ(std::vector<std::string>(a.neighbours(0).ips().begin(), a.neighbours(0).ips().end()),
            (std::vector<std::string>{"fd00::1", "10.0.0.1"}));
  auto b = Register("B", "b");
  ASSERT_EQ(b.action(), api::ACTION_NEIGHBOURS);
  EXPECT_EQ(std::vector<std::string>(b.neighbours(0).ips().begin(), b.neighbours(0).ips().end()),
            (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
}

TEST_F(StateTest, AnnouncedAddressesAreValidated) {
  api::AnnounceHostRequest name = HostReq("N");
  name.mutable_host()->add_ips("node-1.example");
  auto r = state_->AnnounceHost(name);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("node-1.example"), std::string::npos);
  api::AnnounceHostRequest many = HostReq("M");
  for (int i = 0; i < 9; ++i) {
    many.mutable_host()->add_ips("10.0.1." + std::to_string(i));
  }
  EXPECT_FALSE(state_->AnnounceHost(many).ok());
}

TEST_F(StateTest, SeedPeerIsRootAndFeedsTheOthers) {
  Announce("S", true);
  Announce("A");
  Announce("B");
  auto a = Register("A", "a");
  EXPECT_EQ(a.action(), api::ACTION_RETRY);  // the seed has not registered yet
  EXPECT_EQ(a.retry_after_ms(), 10u);        // the seed registers within milliseconds
  ASSERT_EQ(calls_.size(), 1u);
  const std::string seed_peer = calls_[0].peer_id;
  EXPECT_EQ(calls_[0].host.id(), "S");
  EXPECT_EQ(seed_peer.rfind(calls_[0].host.ip() + "-S-", 0), 0u);
  EXPECT_EQ(seed_peer.substr(seed_peer.size() - 5), "-seed");
  EXPECT_EQ(state_->SeedPeerOf(TaskId(TaskIdOf("task1"))).str(), seed_peer);
  calls_[0].done(Status::Ok());

  auto s = Register("S", seed_peer);
  EXPECT_EQ(s.action(), api::ACTION_BACK_TO_SOURCE);
  auto b = Register("B", "b");
  ASSERT_EQ(b.action(), api::ACTION_NEIGHBOURS);
  EXPECT_EQ(Neighbours(b)[0], seed_peer);
  EXPECT_EQ(b.neighbours(0).host_type(), api::HOST_TYPE_SEED);
  // Only one trigger per task.
  EXPECT_EQ(calls_.size(), 1u);
}

TEST_F(StateTest, RegisteringHostThatIsTheSeedGoesToSourceDirectly) {
  Announce("S", true);
  auto r = Register("S", "s-local");
  EXPECT_EQ(r.action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_TRUE(calls_.empty());
  EXPECT_EQ(state_->SeedPeerOf(TaskId(TaskIdOf("task1"))).str(), "s-local");
}

TEST_F(StateTest, FailedTriggerMovesToAnotherSeedThenToSource) {
  Announce("S1", true);
  Announce("S2", true);
  Announce("A");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_RETRY);
  ASSERT_EQ(calls_.size(), 1u);
  std::string first = calls_[0].host.id();
  calls_[0].done(Unavailable("connection refused"));
  EXPECT_EQ(state_->SeedPeerOf(TaskId(TaskIdOf("task1"))).str(), "");
  EXPECT_EQ(state_->GetPeer(PeerId(calls_[0].peer_id))->phase, "failed");

  EXPECT_EQ(Register("A", "a").action(), api::ACTION_RETRY);
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_NE(calls_[1].host.id(), first);
  calls_[1].done(Unavailable("connection refused"));

  // No usable seed left and nothing else has the task: back to source.
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(calls_.size(), 2u);
}

TEST_F(StateTest, SameHostPeersAreExcluded) {
  Announce("A");
  EXPECT_EQ(Register("A", "a1").action(), api::ACTION_BACK_TO_SOURCE);
  auto r = Register("A", "a2");
  EXPECT_EQ(r.action(), api::ACTION_RETRY);
  EXPECT_TRUE(r.neighbours().empty());
}

TEST_F(StateTest, BlockedParentsAreExcluded) {
  Announce("A");
  Announce("B");
  Announce("C");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("C", "c")), std::vector<std::string>{"a"});
  EXPECT_EQ(Neighbours(Register("B", "b", {"a"})), std::vector<std::string>{"c"});
  EXPECT_EQ(Register("B", "b", {"a", "c"}).action(), api::ACTION_RETRY);
}

TEST_F(StateTest, ClusterConfigChangesSchedulingAtRuntime) {
  Announce("A");
  Announce("BB");  // ip 10.0.0.2
  Announce("C");
  Announce("D");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("BB", "bb")), std::vector<std::string>{"a"});
  EXPECT_EQ(Neighbours(Register("C", "c")).size(), 2u);

  ClusterConfig cfg;
  cfg.version = 1;
  cfg.candidate_parent_limit = 1;
  cfg.filter_parent_limit = 15;
  cfg.blocked_hosts = {"A"};  // by hostname
  EXPECT_TRUE(state_->ApplyClusterConfig(cfg));
  EXPECT_EQ(state_->options().candidate_parent_limit, 1u);
  EXPECT_EQ(state_->options().filter_parent_limit, 15u);
  std::vector<std::string> d = Neighbours(Register("D", "d"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0], "a");

  cfg.version = 2;
  cfg.blocked_hosts = {"10.0.0.2"};  // by IP
  EXPECT_TRUE(state_->ApplyClusterConfig(cfg));
  EXPECT_EQ(Neighbours(Register("C", "c", {"d"})), std::vector<std::string>{"a"});

  // Stale and equal versions are ignored.
  cfg.version = 2;
  cfg.candidate_parent_limit = 5;
  EXPECT_FALSE(state_->ApplyClusterConfig(cfg));
  cfg.version = 1;
  EXPECT_FALSE(state_->ApplyClusterConfig(cfg));
  EXPECT_EQ(state_->options().candidate_parent_limit, 1u);
  EXPECT_EQ(state_->cluster_config_version(), 2u);
}

TEST_F(StateTest, ClusterBlocklistRefusesTasksPerKindOfPeer) {
  Announce("A");
  Announce("S", /*seed=*/true);
  auto blocklist = TaskBlocklist::Compile(BlockRules{{}, {"/secret"}, {"nightly"}},
                                          BlockRules{{"batch"}, {}, {}});
  ASSERT_TRUE(blocklist.ok());
  ClusterConfig cfg;
  cfg.version = 1;
  cfg.blocklist = std::make_shared<const TaskBlocklist>(std::move(blocklist).value());
  ASSERT_TRUE(state_->ApplyClusterConfig(cfg));

  auto denied = state_->RegisterPeer(PeerReq("A", "a", "secret-model"));
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("url matches \"/secret\""), std::string::npos)
      << denied.status().message();
  api::RegisterPeerRequest tagged = PeerReq("A", "a2", "other");
  tagged.mutable_task()->set_tag("nightly");
  EXPECT_EQ(state_->RegisterPeer(tagged).status().code(), StatusCode::kPermissionDenied);
  // The seed peers follow their own rules: the client's URL rule does not stop them, the
  // application rule does.
  EXPECT_TRUE(state_->RegisterPeer(PeerReq("S", "s", "secret-model")).ok());
  api::RegisterPeerRequest batch = PeerReq("S", "s2", "other");
  batch.mutable_task()->set_application("batch");
  EXPECT_EQ(state_->RegisterPeer(batch).status().code(), StatusCode::kPermissionDenied);
  // A refused registration leaves no peer behind; other tasks go on.
  EXPECT_TRUE(state_->RegisterPeer(PeerReq("A", "a3", "public")).ok());

  cfg.version = 2;  // a config without a blocklist lifts it
  cfg.blocklist = nullptr;
  ASSERT_TRUE(state_->ApplyClusterConfig(cfg));
  EXPECT_TRUE(state_->RegisterPeer(PeerReq("A", "a", "secret-model")).ok());
}

TEST_F(StateTest, ClusterConfigUploadSlotsAndBackToSourceCount) {
  Announce("Z", false, /*slots=*/0);  // takes the default upload slots
  Announce("B");
  Announce("C");
  Announce("D");
  ClusterConfig cfg;
  cfg.version = 3;
  cfg.upload_slots = 1;
  cfg.back_to_source_count = 1;
  ASSERT_TRUE(state_->ApplyClusterConfig(cfg));
  EXPECT_EQ(Register("Z", "z").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("B", "b")), std::vector<std::string>{"z"});
  std::vector<std::string> c = Neighbours(Register("C", "c"));
  EXPECT_EQ(std::set<std::string>(c.begin(), c.end()), (std::set<std::string>{"b", "z"}));
  // z was the first back-to-source peer; the limit of 1 is reached.
  EXPECT_EQ(Register("D", "d", {"z", "b", "c"}, true).action(), api::ACTION_RETRY);
}

TEST_F(StateTest, NeighboursIncludeRunningPeersAndTradeBothWays) {
  Announce("A");
  Announce("B");
  Announce("C");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("B", "b")), std::vector<std::string>{"a"});
  // b has nothing yet but is registered: it is a neighbour too.
  std::vector<std::string> c = Neighbours(Register("C", "c"));
  EXPECT_EQ(std::set<std::string>(c.begin(), c.end()), (std::set<std::string>{"a", "b"}));
  // No parent/child graph: a may be handed b and c (they trade both ways).
  std::vector<std::string> a = Neighbours(Register("A", "a"));
  EXPECT_EQ(std::set<std::string>(a.begin(), a.end()), (std::set<std::string>{"b", "c"}));
  // The ones a peer has are not handed out again.
  api::RegisterPeerRequest again = PeerReq("C", "c");
  again.add_connected("a");
  EXPECT_EQ(Neighbours(Register(again)), std::vector<std::string>{"b"});
  again.add_connected("b");
  EXPECT_EQ(Register(again).action(), api::ACTION_RETRY);
}

TEST_F(StateTest, NeighbourSetsAreBoundedAndPartlyRandom) {
  SchedulerOptions opts;
  opts.candidate_parent_limit = 4;
  Make(opts);
  Announce("S0");
  EXPECT_EQ(Register("S0", "s0").action(), api::ACTION_BACK_TO_SOURCE);
  std::map<std::string, int> handed;
  for (int i = 1; i <= 30; ++i) {
    std::string h = "H" + std::to_string(i);
    Announce(h);
    auto r = Register(h, "p" + std::to_string(i));
    ASSERT_EQ(r.action(), api::ACTION_NEIGHBOURS);
    EXPECT_LE(r.neighbours_size(), 4);
    for (const auto& n : r.neighbours()) {
      handed[n.peer_id()]++;
    }
  }
  // The random half spreads new peers over the swarm instead of piling them on a few.
  EXPECT_GE(handed.size(), 15u);
}

TEST_F(StateTest, BackToSourceLimitIsRespected) {
  for (const char* h : {"A", "B", "C", "D", "E"}) {
    Announce(h);
  }
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Register("B", "b", {"a"}, true).action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Register("C", "c", {"a", "b"}, true).action(), api::ACTION_BACK_TO_SOURCE);
  auto d = Register("D", "d", {"a", "b", "c"}, true);
  EXPECT_EQ(d.action(), api::ACTION_RETRY);
  EXPECT_NE(d.reason().find("limit"), std::string::npos);
  // Without the flag it just waits for a neighbour.
  EXPECT_EQ(Register("E", "e", {"a", "b", "c", "d"}).action(), api::ACTION_RETRY);
  // A failed back-to-source peer frees its place.
  Report("C", "c", api::PEER_STATE_FAILED);
  EXPECT_EQ(Register("D", "d", {"a", "b", "c", "e"}, true).action(), api::ACTION_BACK_TO_SOURCE);
}

TEST_F(StateTest, MeasuredThroughputRanksParents) {
  SchedulerOptions opts;
  opts.candidate_parent_limit = 1;
  Make(opts);
  Announce("A");
  Announce("B");
  Announce("C");
  Announce("D");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Register("B", "b", {"a"}, true).action(), api::ACTION_BACK_TO_SOURCE);
  ASSERT_EQ(Register("C", "c").neighbours_size(), 1);
  api::NeighbourStat slow;
  slow.set_peer_id("a");
  slow.set_bytes(1 << 20);
  slow.set_busy_ms(1000);
  api::NeighbourStat fast;
  fast.set_peer_id("b");
  fast.set_bytes(100 << 20);
  fast.set_busy_ms(1000);
  Report("C", "c", api::PEER_STATE_RUNNING, {slow, fast});
  // Leave the slot counts equal again, then ask.
  ASSERT_TRUE(state_->LeavePeer(PeerId("c")).ok());
  EXPECT_EQ(Neighbours(Register("D", "d")), std::vector<std::string>{"b"});
}

TEST_F(StateTest, SameIdcRanksParents) {
  SchedulerOptions opts;
  opts.candidate_parent_limit = 1;
  Make(opts);
  Announce("A", false, 10, "idc-x");
  Announce("B", false, 10, "idc-y");
  Announce("C", false, 10, "idc-y");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Register("B", "b", {"a"}, true).action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("C", "c")), std::vector<std::string>{"b"});
}

TEST_F(StateTest, LeavesRemovePeersAndHosts) {
  Announce("A");
  Announce("B");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("B", "b")), std::vector<std::string>{"a"});
  ASSERT_TRUE(state_->LeavePeer(PeerId("a")).ok());
  EXPECT_FALSE(state_->GetPeer(PeerId("a")).has_value());
  EXPECT_NE(Register("B", "b").action(), api::ACTION_NEIGHBOURS);
  EXPECT_FALSE(state_->ReportPeer(api::ReportPeerRequest()).ok());
  ASSERT_TRUE(state_->LeaveHost(HostId("B")).ok());
  EXPECT_FALSE(state_->GetPeer(PeerId("b")).has_value());
  EXPECT_EQ(state_->host_count(), 1u);
}

TEST_F(StateTest, GcRemovesDeadHostsAndIdlePeers) {
  using std::chrono::minutes;
  using std::chrono::seconds;
  Announce("A");
  Announce("B");
  Announce("C");
  EXPECT_EQ(Register("A", "a").action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(Neighbours(Register("B", "b")), std::vector<std::string>{"a"});
  EXPECT_EQ(Neighbours(Register(PeerReq("C", "c", "task2"))).size(), 0u);
  Report("A", "a", api::PEER_STATE_SUCCEEDED);

  clock_.Advance(seconds(90));
  Announce("A");
  Announce("C");
  EXPECT_EQ(state_->RunGc(clock_.Now()).hosts_removed, 0u);
  clock_.Advance(seconds(60));  // B silent for 150 s > hostTTL 2 min
  GcResult r = state_->RunGc(clock_.Now());
  EXPECT_EQ(r.hosts_removed, 1u);
  EXPECT_FALSE(state_->GetPeer(PeerId("b")).has_value());

  // c (running on task2) idles past peerTTL; succeeded a stays while A lives.
  for (int i = 0; i < 11; ++i) {
    clock_.Advance(minutes(1));
    Announce("A");
    Announce("C");
  }
  r = state_->RunGc(clock_.Now());
  EXPECT_EQ(r.peers_removed, 1u);
  EXPECT_EQ(r.tasks_removed, 1u);
  EXPECT_FALSE(state_->GetPeer(PeerId("c")).has_value());
  EXPECT_TRUE(state_->GetPeer(PeerId("a")).has_value());
  EXPECT_EQ(state_->task_count(), 1u);

  clock_.Advance(minutes(3));
  r = state_->RunGc(clock_.Now());
  EXPECT_EQ(r.hosts_removed, 2u);
  EXPECT_EQ(state_->peer_count(), 0u);
  EXPECT_EQ(state_->task_count(), 0u);
}

TEST_F(StateTest, GcCapsSucceededPeersPerTask) {
  SchedulerOptions opts;
  opts.max_succeeded_peers_per_task = 2;
  Make(opts);
  for (const char* h : {"A", "B", "C"}) {
    Announce(h);
    Register(h, std::string(h) + "p", {}, true);
    Report(h, std::string(h) + "p", api::PEER_STATE_SUCCEEDED);
    clock_.Advance(std::chrono::seconds(1));
  }
  EXPECT_EQ(state_->RunGc(clock_.Now()).peers_removed, 1u);
  EXPECT_FALSE(state_->GetPeer(PeerId("Ap")).has_value());
  EXPECT_TRUE(state_->GetPeer(PeerId("Cp")).has_value());
}

}  // namespace
}  // namespace df::scheduler
