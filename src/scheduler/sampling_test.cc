// Neighbour choice samples the task (filter_parent_limit): its cost does not grow with the
// number of peers of the task (issue #12).
#include <gtest/gtest.h>

#include <set>

#include "dragonfly/scheduler/state.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::HostReq;
using testing::PeerReq;
using testing::TaskIdOf;

class SamplingTest : public testing::StateFixture {
 protected:
  // Host h<i> with peer p<i> of the task, running with some pieces (a source).
  void AddRunningPeer(int i) {
    const std::string host = "h" + std::to_string(i);
    const std::string peer = "p" + std::to_string(i);
    ASSERT_TRUE(state_->AnnounceHost(HostReq(host)).ok());
    auto r = state_->RegisterPeer(PeerReq(host, peer));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    api::ReportPeerRequest report;
    report.set_host_id(host);
    report.set_peer_id(peer);
    report.set_task_id(TaskIdOf("task1"));
    report.set_state(api::PEER_STATE_RUNNING);
    report.set_content_length(1000);
    report.set_total_pieces(10);
    report.set_finished_pieces(static_cast<uint32_t>(1 + i % 9));
    ASSERT_TRUE(state_->ReportPeer(report).ok());
  }

  // Examined candidates of one registration of a new peer, and its neighbours.
  std::pair<uint64_t, std::vector<std::string>> Decide(const std::string& name) {
    EXPECT_TRUE(state_->AnnounceHost(HostReq("host-" + name)).ok());
    const uint64_t before = state_->candidates_examined();
    auto r = state_->RegisterPeer(PeerReq("host-" + name, "peer-" + name));
    EXPECT_TRUE(r.ok());
    std::vector<std::string> ids;
    for (const auto& n : r->neighbours()) {
      ids.push_back(n.peer_id());
    }
    return {state_->candidates_examined() - before, ids};
  }
};

TEST_F(SamplingTest, ADecisionOnA5000PeerTaskLooksAtABoundedNumberOfPeers) {
  const SchedulerOptions opts;
  AddRunningPeer(0);
  for (int i = 1; i < 50; ++i) {
    AddRunningPeer(i);
  }
  auto [small_cost, small] = Decide("small");
  EXPECT_EQ(small.size(), opts.candidate_parent_limit);
  for (int i = 50; i < 5000; ++i) {
    AddRunningPeer(i);
  }
  // 5,000 peers: the same bound as 50 (the sample, plus the seed's direct look-up).
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto [cost, neighbours] = Decide("big" + std::to_string(i));
    EXPECT_LE(cost, opts.filter_parent_limit + 1);
    EXPECT_LE(small_cost, opts.filter_parent_limit + 1);
    ASSERT_EQ(neighbours.size(), opts.candidate_parent_limit);
    seen.insert(neighbours.begin(), neighbours.end());
  }
  // Spread over the task rather than always the same few: 50 decisions of 8 reach far more
  // than 8 distinct peers.
  EXPECT_GT(seen.size(), 150u);
}

TEST_F(SamplingTest, TheBackToSourceLimitAndSourcesAreCountedAsPeersComeAndGo) {
  // No seed host: the first peer goes back to source (nothing feeds the task), the next ones
  // (refusing every neighbour, asking for the origin) are allowed until back_to_source_count
  // (3) normal peers are there.
  const SchedulerOptions opts;
  std::vector<std::string> allowed;
  std::vector<std::string> all;
  for (int i = 0; i < 6; ++i) {
    const std::string host = "b" + std::to_string(i);
    ASSERT_TRUE(state_->AnnounceHost(HostReq(host)).ok());
    auto r = state_->RegisterPeer(PeerReq(host, "q" + std::to_string(i), "task1", all, true));
    all.push_back("q" + std::to_string(i));
    ASSERT_TRUE(r.ok());
    if (r->action() == api::ACTION_BACK_TO_SOURCE) {
      allowed.push_back("q" + std::to_string(i));
    }
  }
  EXPECT_EQ(allowed.size(), opts.back_to_source_count);
  // One of them leaves: a place frees up.
  ASSERT_TRUE(state_->LeavePeer(PeerId(allowed[0])).ok());
  ASSERT_TRUE(state_->AnnounceHost(HostReq("b9")).ok());
  auto r = state_->RegisterPeer(PeerReq("b9", "q9", "task1", all, true));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->action(), api::ACTION_BACK_TO_SOURCE);
}

}  // namespace
}  // namespace df::scheduler
