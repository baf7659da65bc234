// A scheduler that takes a task over mid-download (its owner died) or back (its owner returned)
// rebuilds the task's swarm from the peers' registrations: their progress makes them sources at
// once, and the seed host's running session becomes the task's seed again (issue #12).
#include <gtest/gtest.h>

#include <set>

#include "dragonfly/scheduler/state.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::HostReq;
using testing::PeerReq;

// A registration again, mid-download: `finished` of 10 pieces of 64 bytes.
api::RegisterPeerRequest Again(const std::string& host, const std::string& peer, uint32_t finished,
                               bool seed = false) {
  api::RegisterPeerRequest r = PeerReq(host, peer);
  r.set_finished_pieces(finished);
  r.set_total_pieces(10);
  r.set_content_length(640);
  r.set_piece_length(64);
  r.set_seed(seed);
  r.set_back_to_source(seed);
  return r;
}

std::set<std::string> Neighbours(const api::RegisterPeerResponse& r) {
  std::set<std::string> out;
  for (const auto& n : r.neighbours()) {
    out.insert(n.peer_id());
  }
  return out;
}

class TakeoverTest : public testing::StateFixture {
 protected:
  void SetUp() override {
    StateFixture::SetUp();
    for (const char* h : {"a", "b", "c"}) {
      ASSERT_TRUE(state_->AnnounceHost(HostReq(h)).ok());
    }
    ASSERT_TRUE(state_->AnnounceHost(HostReq("seedhost", true)).ok());
  }
};

TEST_F(TakeoverTest, TheSwarmIsRebuiltFromReRegistrationsWithoutGoingBackToSource) {
  // The first peer to come over: the task is new here, so its seed host is triggered again.
  auto r = state_->RegisterPeer(Again("a", "pa", 6));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action(), api::ACTION_RETRY) << r->reason();
  ASSERT_EQ(calls_.size(), 1u);
  const std::string placeholder = calls_[0].peer_id;
  EXPECT_EQ(state_->GetPeer(PeerId("pa"))->phase, "running");

  // The seed host's session, still fetching under the ID the dead scheduler gave it, registers
  // (the trigger found it running): it takes the placeholder's place as the task's seed.
  r = state_->RegisterPeer(Again("seedhost", "seed-session", 8, /*seed=*/true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action(), api::ACTION_BACK_TO_SOURCE);
  EXPECT_EQ(state_->SeedPeerOf(TaskId(calls_[0].spec.task_id())).str(), "seed-session");
  EXPECT_FALSE(state_->GetPeer(PeerId(placeholder)).has_value()) << "the placeholder stayed";
  EXPECT_TRUE(state_->GetPeer(PeerId("seed-session"))->is_seed);

  // The others come over: each is offered the seed and the peers already here, holding pieces.
  r = state_->RegisterPeer(Again("b", "pb", 3));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->action(), api::ACTION_NEIGHBOURS) << r->reason();
  EXPECT_EQ(Neighbours(*r), (std::set<std::string>{"seed-session", "pa"}));
  r = state_->RegisterPeer(Again("c", "pc", 0));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->action(), api::ACTION_NEIGHBOURS);
  EXPECT_EQ(Neighbours(*r), (std::set<std::string>{"seed-session", "pa", "pb"}));
  EXPECT_EQ(calls_.size(), 1u) << "the seed was triggered twice";
  for (const char* p : {"pa", "pb", "pc"}) {
    EXPECT_FALSE(state_->GetPeer(PeerId(p))->back_to_source) << p;
  }

  // What the scheduler now lists of the task: every peer, their progress and the seed.
  auto stat = state_->StatTask(TaskId(calls_[0].spec.task_id()), /*with_peers=*/true);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->total_pieces(), 10u);
  std::map<std::string, api::TaskPeer> listed;
  for (const auto& p : stat->peers()) {
    listed[p.peer_id()] = p;
  }
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed["pa"].finished_pieces(), 6u);
  EXPECT_TRUE(listed["seed-session"].seed());
  EXPECT_EQ(listed["seed-session"].hostname(), "seedhost");
}

TEST_F(TakeoverTest, OnlyASeedHostsSeedSessionIsAdopted) {
  ASSERT_TRUE(state_->RegisterPeer(Again("a", "pa", 6)).ok());
  ASSERT_EQ(calls_.size(), 1u);
  const std::string task = calls_[0].spec.task_id();
  // A normal host claiming to be a seed session is a normal peer.
  auto r = state_->RegisterPeer(Again("b", "liar", 2, /*seed=*/true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(state_->SeedPeerOf(TaskId(task)).str(), calls_[0].peer_id);
  EXPECT_FALSE(state_->GetPeer(PeerId("liar"))->is_seed);
  // Progress in another geometry than the task's means nothing.
  api::RegisterPeerRequest odd = Again("c", "odd", 5);
  odd.set_total_pieces(20);
  ASSERT_TRUE(state_->RegisterPeer(odd).ok());
  auto stat = state_->StatTask(TaskId(task), true);
  for (const auto& p : stat->peers()) {
    if (p.peer_id() == "odd") {
      EXPECT_EQ(p.finished_pieces(), 0u);
    }
  }
}

}  // namespace
}  // namespace df::scheduler
