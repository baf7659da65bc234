// The DfdaemonUpload service's Download, StatTask and DeleteTask (the manager's jobs) answer
// exactly like the local Dfdaemon service's: both are served here over real gRPC.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <filesystem>

#include "daemon/downloads.h"
#include "daemon/local_service.h"
#include "daemon/metrics.h"
#include "dragonfly/common/digest.h"
#include "dragonfly/common/piece.h"
#include "dragonfly/common/task_id.h"

namespace df::daemon {
namespace {

constexpr char kUrl[] = "http://origin.invalid/file.bin";
constexpr char kContent[] = "hello world";

class UploadServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("upload_service_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto store = storage::OpenTaskStore(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<DaemonMetrics>(registry_);
    ctx_.config = &config_;
    ctx_.store = store_.get();
    ctx_.metrics = metrics_.get();
    ctx_.host_id = "127.0.0.1-test";
    downloads_ = std::make_unique<Downloads>(&ctx_);
    cache_ = std::make_unique<CacheRpcs>(&ctx_, downloads_.get(), "127.0.0.1", "test", false);
    local_ = std::make_unique<LocalService>(&ctx_, downloads_.get(), cache_.get());
    upload_ =
        std::make_unique<UploadService>(&ctx_, downloads_.get(), cache_.get(), /*secure=*/false);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(local_.get());
    builder.RegisterService(upload_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                       grpc::InsecureChannelCredentials());
    local_stub_ = dfd::Dfdaemon::NewStub(channel);
    upload_stub_ = dfd::DfdaemonUpload::NewStub(channel);

    TaskIdInput in;
    in.url = kUrl;
    task_id_ = MakeTaskId(in).value();
    auto lease = store_->Acquire(task_id_, kUrl);
    ASSERT_TRUE(lease.ok());
    const uint32_t len = sizeof(kContent) - 1;
    ASSERT_TRUE((*lease)->SetGeometry(len, kMinPieceLength).ok());
    ASSERT_TRUE((*lease)->WritePiece(0, kContent, len, Crc32c(0, kContent, len)).ok());
    ASSERT_TRUE((*lease)->Flush().ok());
  }

  void TearDown() override {
    server_->Shutdown();
    downloads_->Shutdown(std::chrono::seconds(1));
    std::filesystem::remove_all(dir_);
  }

  template <typename Stub>
  grpc::Status Stat(Stub& stub, const std::string& id, dfd::TaskInfo* info) {
    grpc::ClientContext ctx;
    dfd::StatTaskRequest req;
    req.set_task_id(id);
    return stub.StatTask(&ctx, req, info);
  }

  template <typename Stub>
  grpc::Status Download(Stub& stub, const std::string& url,
                        std::vector<dfd::DownloadResponse>* out) {
    grpc::ClientContext ctx;
    dfd::DownloadRequest req;
    req.set_url(url);
    auto reader = stub.Download(&ctx, req);
    dfd::DownloadResponse resp;
    while (reader->Read(&resp)) {
      out->push_back(resp);
    }
    return reader->Finish();
  }

  std::filesystem::path dir_;
  DaemonConfig config_;
  std::unique_ptr<storage::TaskStore> store_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<DaemonMetrics> metrics_;
  DaemonContext ctx_;
  std::unique_ptr<Downloads> downloads_;
  std::unique_ptr<CacheRpcs> cache_;
  std::unique_ptr<LocalService> local_;
  std::unique_ptr<UploadService> upload_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<dfd::Dfdaemon::Stub> local_stub_;
  std::unique_ptr<dfd::DfdaemonUpload::Stub> upload_stub_;
  std::string task_id_;
};

TEST_F(UploadServiceTest, StatTaskIsTheLocalOne) {
  dfd::TaskInfo a, b;
  ASSERT_TRUE(Stat(*local_stub_, task_id_, &a).ok());
  ASSERT_TRUE(Stat(*upload_stub_, task_id_, &b).ok());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_TRUE(b.done());
  EXPECT_EQ(b.content_length(), 11);
  EXPECT_EQ(b.url(), kUrl);
  EXPECT_EQ(Stat(*local_stub_, "nope", &a).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stat(*upload_stub_, "nope", &b).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(UploadServiceTest, DownloadIsTheLocalOne) {
  std::vector<dfd::DownloadResponse> a, b;
  ASSERT_TRUE(Download(*local_stub_, kUrl, &a).ok());
  ASSERT_TRUE(Download(*upload_stub_, kUrl, &b).ok());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
  }
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.front().started().task_id(), task_id_);
  EXPECT_TRUE(b.back().finished().cache_hit());
  EXPECT_EQ(b.back().finished().content_length(), 11);

  a.clear();
  b.clear();
  grpc::Status sa = Download(*local_stub_, "ftp://x/y", &a);
  grpc::Status sb = Download(*upload_stub_, "ftp://x/y", &b);
  EXPECT_EQ(sa.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(sb.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(sa.error_message(), sb.error_message());
}

TEST_F(UploadServiceTest, DeleteTaskIsTheLocalOne) {
  grpc::ClientContext ctx;
  dfd::DeleteTaskRequest req;
  req.set_task_id(task_id_);
  dfd::DeleteTaskResponse resp;
  ASSERT_TRUE(upload_stub_->DeleteTask(&ctx, req, &resp).ok());
  dfd::TaskInfo info;
  EXPECT_EQ(Stat(*local_stub_, task_id_, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx2, ctx3;
  EXPECT_EQ(local_stub_->DeleteTask(&ctx2, req, &resp).error_code(),
            upload_stub_->DeleteTask(&ctx3, req, &resp).error_code());
}

}  // namespace
}  // namespace df::daemon
