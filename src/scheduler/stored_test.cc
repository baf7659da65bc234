// AnnounceTask: a host's stored task becomes a source with no decision, seed trigger or origin
// fetch; what is announced is bound to its ID and geometry (issue #12).
#include <gtest/gtest.h>

#include "dragonfly/scheduler/state.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::HostReq;
using testing::PeerReq;
using testing::TaskIdOf;

api::AnnounceTaskRequest Stored(const std::string& host, const std::string& peer,
                                const std::string& task = "task1", int64_t length = 100) {
  api::AnnounceTaskRequest r;
  r.set_host_id(host);
  r.set_peer_id(peer);
  r.mutable_task()->set_task_id(TaskIdOf(task));
  r.mutable_task()->set_url("http://origin/" + task);
  r.set_content_length(length);
  r.set_piece_length(64);
  r.set_total_pieces(static_cast<uint32_t>((length + 63) / 64));
  return r;
}

class StoredTaskTest : public testing::StateFixture {
 protected:
  void SetUp() override {
    StateFixture::SetUp();
    ASSERT_TRUE(state_->AnnounceHost(HostReq("seedhost", true)).ok());
    ASSERT_TRUE(state_->AnnounceHost(HostReq("holder")).ok());
    ASSERT_TRUE(state_->AnnounceHost(HostReq("late")).ok());
  }
};

TEST_F(StoredTaskTest, AStoredTaskIsASourceWithoutSeedTriggerOrOrigin) {
  ASSERT_TRUE(state_->AnnounceTask(Stored("holder", "held")).ok());
  auto info = state_->GetPeer(PeerId("held"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->phase, "succeeded");
  auto r = state_->RegisterPeer(PeerReq("late", "late-peer"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->action(), api::ACTION_NEIGHBOURS);
  ASSERT_EQ(r->neighbours_size(), 1);
  EXPECT_EQ(r->neighbours(0).peer_id(), "held");
  EXPECT_TRUE(calls_.empty()) << "a seed was triggered for a task a host holds";
  // Announcing again (another restart) updates the same peer.
  ASSERT_TRUE(state_->AnnounceTask(Stored("holder", "held")).ok());
  EXPECT_EQ(state_->peer_count(), 2u);
}

TEST_F(StoredTaskTest, WhatIsAnnouncedIsBoundToItsIdGeometryAndHost) {
  EXPECT_EQ(state_->AnnounceTask(Stored("nobody", "p")).code(), StatusCode::kFailedPrecondition);
  api::AnnounceTaskRequest other_url = Stored("holder", "p");
  other_url.mutable_task()->set_url("http://evil/task1");
  EXPECT_EQ(state_->AnnounceTask(other_url).code(), StatusCode::kPermissionDenied);
  api::AnnounceTaskRequest no_geometry = Stored("holder", "p");
  no_geometry.set_total_pieces(0);
  EXPECT_EQ(state_->AnnounceTask(no_geometry).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(state_->AnnounceTask(Stored("holder", "p")).ok());
  // Another length for the same task, or the same peer ID for another host.
  EXPECT_EQ(state_->AnnounceTask(Stored("late", "q", "task1", 200)).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(state_->AnnounceTask(Stored("late", "p")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(state_->peer_count(), 1u);
}

}  // namespace
}  // namespace df::scheduler
