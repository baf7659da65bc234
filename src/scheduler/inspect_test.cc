// The live swarm view's data: InspectTask (who fed whom, at what rate) and ListTasks.
#include <gtest/gtest.h>

#include "scheduler/state_impl.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::HostReq;
using testing::PeerReq;
using testing::TaskIdOf;

class InspectTest : public testing::StateFixture {
 protected:
  void Join(const std::string& host, const std::string& peer, const std::string& task = "t") {
    ASSERT_TRUE(state_->AnnounceHost(HostReq(host)).ok());
    ASSERT_TRUE(state_->RegisterPeer(PeerReq(host, peer, task)).ok());
  }
  // `peer` reports `bytes` received from each of `from` since its last report.
  void Report(const std::string& host, const std::string& peer,
              std::vector<std::pair<std::string, uint64_t>> from, uint32_t finished) {
    api::ReportPeerRequest r;
    r.set_host_id(host);
    r.set_peer_id(peer);
    r.set_task_id(TaskIdOf("t"));
    r.set_state(api::PEER_STATE_RUNNING);
    r.set_content_length(10 << 20);
    r.set_piece_length(1 << 20);
    r.set_total_pieces(10);
    r.set_finished_pieces(finished);
    for (const auto& [id, bytes] : from) {
      api::NeighbourStat* s = r.add_neighbours();
      s->set_peer_id(id);
      s->set_bytes(bytes);
      s->set_busy_ms(100);
    }
    ASSERT_TRUE(state_->ReportPeer(r).ok());
  }
  static const api::InspectedPeer& PeerIn(const api::InspectTaskResponse& r,
                                          const std::string& id) {
    for (const auto& p : r.peers()) {
      if (p.peer().peer_id() == id) {
        return p;
      }
    }
    ADD_FAILURE() << "no peer " << id;
    return r.peers(0);
  }
};

TEST_F(InspectTest, EdgesCarryTotalsAndTheRateOfTheLastReport) {
  Join("A", "a");
  Join("B", "b");
  Join("C", "c");
  clock_.Advance(std::chrono::seconds(2));
  Report("C", "c", {{"a", 4 << 20}, {"b", 2 << 20}}, 6);  // over 2 s since it registered
  clock_.Advance(std::chrono::seconds(1));
  Report("C", "c", {{"a", 1 << 20}}, 7);  // b sent nothing this second

  auto r = state_->InspectTask(TaskId(TaskIdOf("t")));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->known());
  EXPECT_EQ(r->url(), "http://origin/t");
  EXPECT_EQ(r->peers_size(), 3);
  const api::InspectedPeer& c = PeerIn(*r, "c");
  ASSERT_EQ(c.inbound_size(), 2);
  EXPECT_EQ(c.inbound(0).from_peer_id(), "a");
  EXPECT_EQ(c.inbound(0).bytes_total(), 5u << 20);
  EXPECT_EQ(c.inbound(0).rate_bps(), 1u << 20);  // 1 MiB in the last second
  EXPECT_EQ(c.inbound(1).from_peer_id(), "b");
  EXPECT_EQ(c.inbound(1).bytes_total(), 2u << 20);
  EXPECT_EQ(c.inbound(1).rate_bps(), 0u);
  EXPECT_EQ(c.bytes_from_peers(), 7u << 20);
  EXPECT_EQ(c.last_report_ms_ago(), 0);
  EXPECT_EQ(c.peer().finished_pieces(), 7u);
  EXPECT_EQ(PeerIn(*r, "a").last_report_ms_ago(), -1);  // never reported
  EXPECT_EQ(PeerIn(*r, "a").inbound_size(), 0);
  EXPECT_FALSE(state_->InspectTask(TaskId(TaskIdOf("other"))).has_value());

  // A peer that stops reporting shows no rate any more (its totals stay).
  clock_.Advance(std::chrono::seconds(11));
  r = state_->InspectTask(TaskId(TaskIdOf("t")));
  EXPECT_EQ(PeerIn(*r, "c").inbound(0).rate_bps(), 0u);
  EXPECT_EQ(PeerIn(*r, "c").inbound(0).bytes_total(), 5u << 20);
}

TEST_F(InspectTest, AFinishedPeerShowsNoRate) {
  Join("A", "a");
  Join("B", "b");
  clock_.Advance(std::chrono::seconds(1));
  Report("B", "b", {{"a", 1 << 20}}, 10);
  api::ReportPeerRequest done;
  done.set_host_id("B");
  done.set_peer_id("b");
  done.set_task_id(TaskIdOf("t"));
  done.set_state(api::PEER_STATE_SUCCEEDED);
  done.set_total_pieces(10);
  done.set_finished_pieces(10);
  ASSERT_TRUE(state_->ReportPeer(done).ok());
  auto r = state_->InspectTask(TaskId(TaskIdOf("t")));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(PeerIn(*r, "b").peer().phase(), "succeeded");
  EXPECT_EQ(PeerIn(*r, "b").inbound(0).rate_bps(), 0u);
  EXPECT_EQ(PeerIn(*r, "b").bytes_from_peers(), 1u << 20);
}

TEST_F(InspectTest, InboundEdgesAreBounded) {
  Join("A", "a");
  std::vector<std::pair<std::string, uint64_t>> many;
  for (int i = 0; i < 100; ++i) {
    many.emplace_back("n" + std::to_string(i), 1000);
  }
  clock_.Advance(std::chrono::seconds(1));
  Report("A", "a", many, 1);
  auto r = state_->InspectTask(TaskId(TaskIdOf("t")));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(PeerIn(*r, "a").inbound_size(), static_cast<int>(kMaxInEdges));
}

TEST_F(InspectTest, ListTasksPutsTheMostRecentlyActiveFirst) {
  Join("A", "a1", "old");
  clock_.Advance(std::chrono::seconds(5));
  Join("B", "b1", "new");
  Join("C", "c1", "new");
  api::ListTasksResponse all = state_->ListTasks(0);
  ASSERT_EQ(all.tasks_size(), 2);
  EXPECT_EQ(all.tasks(0).task_id(), TaskIdOf("new"));
  EXPECT_EQ(all.tasks(0).peers(), 2u);
  EXPECT_EQ(all.tasks(0).url(), "http://origin/new");
  EXPECT_EQ(all.tasks(1).task_id(), TaskIdOf("old"));
  EXPECT_EQ(all.tasks(1).last_active_ms_ago(), 5000);
  api::ListTasksResponse one = state_->ListTasks(1);
  ASSERT_EQ(one.tasks_size(), 1);
  EXPECT_EQ(one.tasks(0).task_id(), TaskIdOf("new"));
}

}  // namespace
}  // namespace df::scheduler
