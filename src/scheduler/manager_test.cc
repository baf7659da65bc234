// The scheduler's KeepAlive stream against an in-process fake manager: registration, cluster
// configs applied at runtime (stale versions ignored), reconnection after a manager restart.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "dragonfly/manager/keepalive.h"
#include "dragonfly/scheduler/service.h"
#include "manager/client/fake_manager.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using df::test_util::FakeManager;
using df::test_util::WaitUntil;
using testing::HostReq;
using testing::RecordingTrigger;
using testing::TriggerCall;

mgr::SchedulerClusterConfig Config(uint64_t version, uint32_t candidate_parent_limit,
                                   uint32_t back_to_source_count = 0, uint32_t upload_slots = 0,
                                   std::vector<std::string> blocked = {}) {
  mgr::SchedulerClusterConfig c;
  c.set_version(version);
  c.set_candidate_parent_limit(candidate_parent_limit);
  c.set_back_to_source_count(back_to_source_count);
  c.set_upload_slots(upload_slots);
  c.set_filter_parent_limit(15);
  for (auto& b : blocked) {
    c.add_blocked_hosts(b);
  }
  return c;
}

class ManagerKeepAliveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(manager_.Start());
    registry_ = std::make_shared<prometheus::Registry>();
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
    }
    manager_.Stop();
  }

  void StartScheduler() {
    SchedulerConfig config;
    config.listen = "127.0.0.1:0";
    config.host = {"sched-1", "127.0.0.9", "idc-a", "cn|hz"};
    config.manager.addr = manager_.addr();
    config.manager.cluster_id = 7;
    config.manager.keep_alive_interval = std::chrono::milliseconds(50);
    auto s = SchedulerServer::Start(config, registry_, std::make_unique<RecordingTrigger>(&calls_));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }

  std::string Metrics() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  }

  FakeManager manager_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<TriggerCall> calls_;
  std::unique_ptr<SchedulerServer> server_;
};

TEST_F(ManagerKeepAliveTest, RegistersWithTheBoundPortAndIdentity) {
  StartScheduler();
  ASSERT_TRUE(WaitUntil([&] { return !manager_.keepalive_requests().empty(); }));
  mgr::KeepAliveRequest req = manager_.keepalive_requests().front();
  EXPECT_EQ(req.source_type(), mgr::SOURCE_TYPE_SCHEDULER);
  EXPECT_EQ(req.hostname(), "sched-1");
  EXPECT_EQ(req.ip(), "127.0.0.9");
  EXPECT_EQ(req.port(), server_->port());
  EXPECT_NE(req.port(), 0u);
  EXPECT_EQ(req.cluster_id(), 7u);
  EXPECT_EQ(req.idc(), "idc-a");
  EXPECT_EQ(req.location(), "cn|hz");
  // One request per interval on the same stream.
  ASSERT_TRUE(WaitUntil([&] { return manager_.keepalive_requests().size() >= 4; }));
  EXPECT_EQ(manager_.keepalive_streams(), 1);
  EXPECT_TRUE(server_->manager_keepalive()->connected());
}

TEST_F(ManagerKeepAliveTest, AppliesPushedConfigAndIgnoresStaleVersions) {
  StartScheduler();
  EXPECT_NE(Metrics().find("dragonfly_scheduler_candidate_parent_limit 8"), std::string::npos);
  EXPECT_NE(Metrics().find("dragonfly_scheduler_config_version 0"), std::string::npos);

  manager_.SetConfig(Config(5, 7, 9, 3, {"blocked-host"}));
  ASSERT_TRUE(WaitUntil([&] { return server_->state().cluster_config_version() == 5; }));
  SchedulerOptions o = server_->state().options();
  EXPECT_EQ(o.candidate_parent_limit, 7u);
  EXPECT_EQ(o.back_to_source_count, 9u);
  EXPECT_EQ(o.default_upload_slots, 3u);
  std::string text = Metrics();
  EXPECT_NE(text.find("dragonfly_scheduler_config_version 5"), std::string::npos) << text;
  EXPECT_NE(text.find("dragonfly_scheduler_candidate_parent_limit 7"), std::string::npos) << text;

  // An older version (e.g. from a lagging manager replica) is ignored.
  manager_.SetConfig(Config(4, 2, 1, 1));
  size_t seen = manager_.keepalive_requests().size();
  ASSERT_TRUE(WaitUntil([&] { return manager_.keepalive_requests().size() >= seen + 5; }));
  EXPECT_EQ(server_->state().cluster_config_version(), 5u);
  EXPECT_EQ(server_->state().options().candidate_parent_limit, 7u);

  // Zero values keep the current setting; the block list is replaced.
  manager_.SetConfig(Config(6, 0, 0, 0));
  ASSERT_TRUE(WaitUntil([&] { return server_->state().cluster_config_version() == 6; }));
  o = server_->state().options();
  EXPECT_EQ(o.candidate_parent_limit, 7u);
  EXPECT_EQ(o.back_to_source_count, 9u);
  EXPECT_EQ(o.default_upload_slots, 3u);
  EXPECT_NE(Metrics().find("dragonfly_scheduler_config_version 6"), std::string::npos);
}

TEST_F(ManagerKeepAliveTest, ReconnectsAfterTheManagerRestarts) {
  manager_.SetConfig(Config(1, 5));
  StartScheduler();
  ASSERT_TRUE(WaitUntil([&] { return server_->state().cluster_config_version() == 1; }));
  EXPECT_EQ(server_->manager_keepalive()->sessions(), 1u);

  manager_.Stop();
  ASSERT_TRUE(WaitUntil([&] { return !server_->manager_keepalive()->connected(); }));
  // The scheduler keeps serving while the manager is down.
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = api::Scheduler::NewStub(channel);
  grpc::ClientContext ctx;
  api::AnnounceHostResponse resp;
  ASSERT_TRUE(stub->AnnounceHost(&ctx, HostReq("A"), &resp).ok());

  manager_.SetConfig(Config(2, 3));
  ASSERT_TRUE(manager_.Start());
  ASSERT_TRUE(WaitUntil([&] { return server_->state().cluster_config_version() == 2; }));
  EXPECT_EQ(server_->state().options().candidate_parent_limit, 3u);
  EXPECT_EQ(server_->manager_keepalive()->sessions(), 2u);
  EXPECT_EQ(manager_.keepalive_streams(), 2);  // one before the restart, one after
}

TEST(AdvertisedIpTest, ConfiguredThenListenThenInterface) {
  SchedulerConfig c;
  c.listen = "10.1.2.3:8002";
  EXPECT_EQ(AdvertisedIp(c), "10.1.2.3");
  c.host.ip = "192.168.0.7";
  EXPECT_EQ(AdvertisedIp(c), "192.168.0.7");
  c.host.ip.clear();
  c.listen = "0.0.0.0:8002";
  std::string ip = AdvertisedIp(c);
  EXPECT_NE(ip, "0.0.0.0");
  EXPECT_FALSE(ip.empty());
}

TEST(ManagerKeepAliveClientTest, StopsPromptlyWhileTheManagerIsDown) {
  FakeManager down;
  ASSERT_TRUE(down.Start());
  std::string addr = down.addr();
  down.Stop();  // nothing listens there any more
  ManagerKeepAliveOptions opts;
  opts.addrs = {addr};
  opts.interval = std::chrono::milliseconds(50);
  opts.min_backoff = std::chrono::milliseconds(10);
  opts.max_backoff = std::chrono::milliseconds(40);
  int responses = 0;
  auto ka = ManagerKeepAlive::Start(opts, mgr::KeepAliveRequest(),
                                    [&](const mgr::KeepAliveResponse&) { ++responses; });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // several failed attempts
  EXPECT_FALSE(ka->connected());
  auto start = std::chrono::steady_clock::now();
  ka->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(responses, 0);
  EXPECT_EQ(ka->sessions(), 0u);
}

TEST(ManagerKeepAliveClientTest, FailsOverToTheNextManager) {
  FakeManager down;
  ASSERT_TRUE(down.Start());
  std::string dead = down.addr();
  down.Stop();
  FakeManager up;
  ASSERT_TRUE(up.Start());
  ManagerKeepAliveOptions opts;
  opts.addrs = {dead, up.addr()};
  opts.interval = std::chrono::milliseconds(50);
  opts.min_backoff = std::chrono::milliseconds(10);
  mgr::KeepAliveRequest req;
  req.set_source_type(mgr::SOURCE_TYPE_SEED_PEER);
  req.set_piece_port(4005);
  auto ka = ManagerKeepAlive::Start(opts, req, [](const mgr::KeepAliveResponse&) {});
  ASSERT_TRUE(WaitUntil([&] { return ka->connected(); }));
  EXPECT_EQ(up.keepalive_requests().front().source_type(), mgr::SOURCE_TYPE_SEED_PEER);
  EXPECT_EQ(up.keepalive_requests().front().piece_port(), 4005u);
  ka->Stop();
}

}  // namespace
}  // namespace df::scheduler
