#include "dragonfly/rpc/health.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>

namespace df::rpc {
namespace {

namespace hv1 = grpc::health::v1;

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<HealthService>(
        [this]() -> Status {
          return ready_ ? Status::Ok() : Unavailable("storage directory is not writable");
        },
        std::set<std::string>{"dragonfly.api.scheduler.Scheduler"}, std::chrono::milliseconds(0));
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    stub_ = hv1::Health::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                     grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  grpc::Status Check(const std::string& service, hv1::HealthCheckResponse* out) {
    grpc::ClientContext ctx;
    hv1::HealthCheckRequest req;
    req.set_service(service);
    return stub_->Check(&ctx, req, out);
  }

  std::atomic<bool> ready_{true};
  std::unique_ptr<HealthService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<hv1::Health::Stub> stub_;
};

TEST_F(HealthTest, CheckFollowsTheProbe) {
  hv1::HealthCheckResponse r;
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::SERVING);
  ASSERT_TRUE(Check("dragonfly.api.scheduler.Scheduler", &r).ok());
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::SERVING);
  ready_ = false;
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::NOT_SERVING);
  ready_ = true;
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::SERVING);
  EXPECT_EQ(Check("no.such.Service", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  service_->Shutdown();
  ASSERT_TRUE(Check("", &r).ok());
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::NOT_SERVING);
}

TEST_F(HealthTest, WatchSendsTheStatusThenEachChange) {
  grpc::ClientContext ctx;
  hv1::HealthCheckRequest req;
  auto reader = stub_->Watch(&ctx, req);
  hv1::HealthCheckResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::SERVING);
  ready_ = false;
  ASSERT_TRUE(reader->Read(&r));  // the next message is the change
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::NOT_SERVING);
  ctx.TryCancel();
  while (reader->Read(&r)) {
  }
  (void)reader->Finish();

  grpc::ClientContext unknown_ctx;
  req.set_service("no.such.Service");
  auto unknown = stub_->Watch(&unknown_ctx, req);
  ASSERT_TRUE(unknown->Read(&r));
  EXPECT_EQ(r.status(), hv1::HealthCheckResponse::SERVICE_UNKNOWN);
  unknown_ctx.TryCancel();
  while (unknown->Read(&r)) {
  }
  (void)unknown->Finish();
}

}  // namespace
}  // namespace df::rpc
