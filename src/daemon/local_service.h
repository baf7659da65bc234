// The dfdaemon services: `Dfdaemon` for local CLIs (unix socket) and `DfdaemonUpload` for the
// scheduler (seed trigger). gRPC sync API: each call runs on a gRPC thread and may block.
#pragma once

#include "api/dfdaemon.grpc.pb.h"
#include "daemon/peer_task.h"
#include "daemon/task_manager.h"

namespace df::daemon {

namespace dfd = ::dragonfly::api::dfdaemon;

class LocalService final : public dfd::Dfdaemon::Service {
 public:
  LocalService(DaemonContext* ctx, TaskManager* tasks) : ctx_(ctx), tasks_(tasks) {}

  grpc::Status Download(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                        grpc::ServerWriter<dfd::DownloadResponse>* writer) override;
  grpc::Status StatTask(grpc::ServerContext* context, const dfd::StatTaskRequest* request,
                        dfd::TaskInfo* response) override;
  grpc::Status ListTasks(grpc::ServerContext* context, const dfd::ListTasksRequest* request,
                         dfd::ListTasksResponse* response) override;
  grpc::Status DeleteTask(grpc::ServerContext* context, const dfd::DeleteTaskRequest* request,
                          dfd::DeleteTaskResponse* response) override;

 private:
  DaemonContext* ctx_;
  TaskManager* tasks_;
};

class UploadService final : public dfd::DfdaemonUpload::Service {
 public:
  UploadService(DaemonContext* ctx, TaskManager* tasks) : ctx_(ctx), tasks_(tasks) {}
  grpc::Status TriggerSeed(grpc::ServerContext* context, const dfd::TriggerSeedRequest* request,
                           dfd::TriggerSeedResponse* response) override;

 private:
  DaemonContext* ctx_;
  TaskManager* tasks_;
};

}  // namespace df::daemon
