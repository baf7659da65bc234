// The real gRPC server on 127.0.0.1:0 driven through a stub, and the gRPC seed trigger against
// an in-process DfdaemonUpload service.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <future>

#include "api/dfdaemon.grpc.pb.h"
#include "dragonfly/scheduler/service.h"
#include "scheduler/state_test_util.h"

namespace df::scheduler {
namespace {

using testing::HostReq;
using testing::PeerReq;
using testing::RecordingTrigger;
using testing::TriggerCall;

TEST(SchedulerServerTest, RegisterPeerThroughRealStub) {
  SchedulerConfig config;
  config.listen = "127.0.0.1:0";
  auto registry = std::make_shared<prometheus::Registry>();
  std::vector<TriggerCall> calls;
  auto server =
      SchedulerServer::Start(config, registry, std::make_unique<RecordingTrigger>(&calls));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_GT((*server)->port(), 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = api::Scheduler::NewStub(channel);
  {
    grpc::ClientContext ctx;
    api::RegisterPeerResponse resp;
    grpc::Status s = stub->RegisterPeer(&ctx, PeerReq("A", "a"), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("host not announced"), std::string::npos);
  }
  for (const char* h : {"A", "B"}) {
    grpc::ClientContext ctx;
    api::AnnounceHostResponse resp;
    ASSERT_TRUE(stub->AnnounceHost(&ctx, HostReq(h), &resp).ok());
    EXPECT_GT(resp.announce_interval_ms(), 0u);
  }
  {
    grpc::ClientContext ctx;
    api::RegisterPeerResponse resp;
    ASSERT_TRUE(stub->RegisterPeer(&ctx, PeerReq("A", "a"), &resp).ok());
    EXPECT_EQ(resp.action(), api::ACTION_BACK_TO_SOURCE);
  }
  {
    grpc::ClientContext ctx;
    api::RegisterPeerResponse resp;
    ASSERT_TRUE(stub->RegisterPeer(&ctx, PeerReq("B", "b"), &resp).ok());
    ASSERT_EQ(resp.action(), api::ACTION_NEIGHBOURS);
    EXPECT_EQ(resp.neighbours(0).peer_id(), "a");
  }
  {
    grpc::ClientContext ctx;
    api::ReportPeerRequest req;
    req.set_peer_id("zzz");
    api::ReportPeerResponse resp;
    EXPECT_EQ(stub->ReportPeer(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    api::LeaveHostRequest req;
    req.set_host_id("B");
    api::LeaveHostResponse resp;
    ASSERT_TRUE(stub->LeaveHost(&ctx, req, &resp).ok());
  }
  EXPECT_EQ((*server)->state().host_count(), 1u);
  std::string text = prometheus::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(text.find("dragonfly_scheduler_register_peer_total{action=\"neighbours\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("dragonfly_scheduler_hosts 1"), std::string::npos) << text;
  (*server)->Stop();
}

class FakeUpload final : public dragonfly::api::dfdaemon::DfdaemonUpload::CallbackService {
 public:
  using dragonfly::api::dfdaemon::DfdaemonUpload::CallbackService::TriggerSeed;
  grpc::ServerUnaryReactor* TriggerSeed(grpc::CallbackServerContext* ctx,
                                        const dragonfly::api::dfdaemon::TriggerSeedRequest* req,
                                        dragonfly::api::dfdaemon::TriggerSeedResponse*) override {
    peer_id.set_value(req->peer_id() + " " + req->task().task_id());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  std::promise<std::string> peer_id;
};

TEST(GrpcSeedTriggerTest, CallsTriggerSeedAndReportsFailures) {
  FakeUpload service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server);

  auto trigger = MakeGrpcSeedTrigger(std::chrono::seconds(5));
  api::Host host = HostReq("S", true).host();
  host.set_ip("127.0.0.1");
  host.set_rpc_port(static_cast<uint32_t>(port));
  api::TaskSpec spec;
  spec.set_task_id("t1");
  std::promise<Status> ok;
  trigger->Trigger(host, "peer-1", spec, [&](Status s) { ok.set_value(s); });
  EXPECT_TRUE(ok.get_future().get().ok());
  EXPECT_EQ(service.peer_id.get_future().get(), "peer-1 t1");

  server->Shutdown();
  std::promise<Status> failed;
  trigger->Trigger(host, "peer-2", spec, [&](Status s) { failed.set_value(s); });
  Status s = failed.get_future().get();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace df::scheduler
