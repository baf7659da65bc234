// The dfdaemon services: `Dfdaemon` for local CLIs (unix socket) and `DfdaemonUpload` over TCP
// for the scheduler (seed trigger) and the manager's jobs (preheat = Download, get_task =
// StatTask, delete_task = DeleteTask). gRPC sync API: each call runs on a gRPC thread and may
// block.
#pragma once

#include "api/dfdaemon.grpc.pb.h"
#include "daemon/cache_rpcs.h"
#include "daemon/downloads.h"

namespace df::daemon {

namespace dfd = ::dragonfly::api::dfdaemon;

// The task RPCs both services offer, implemented once: the upload service's Download, StatTask
// and DeleteTask behave exactly like the local service's. Thread-safe (stateless over `ctx` and
// `tasks`, which must outlive it).
class TaskRpcs {
 public:
  TaskRpcs(DaemonContext* ctx, Downloads* downloads) : ctx_(ctx), downloads_(downloads) {}

  // Streams started / progress / finished; a finished stored task is a local cache hit.
  grpc::Status Download(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                        grpc::ServerWriter<dfd::DownloadResponse>* writer) const;
  grpc::Status StatTask(const dfd::StatTaskRequest* request, dfd::TaskInfo* response) const;
  grpc::Status ListTasks(dfd::ListTasksResponse* response) const;
  grpc::Status DeleteTask(const dfd::DeleteTaskRequest* request) const;
  // The objects under a directory-like URL, through this host's origin credentials; at most
  // kMaxEntries.
  static constexpr size_t kMaxEntries = 10000;
  grpc::Status ListEntries(const dfd::ListEntriesRequest* request,
                           dfd::ListEntriesResponse* response) const;

 private:
  // What a Download did, for its span.
  struct Outcome {
    std::string task_id;
    bool cache_hit = false;
    int64_t content_length = -1;
  };
  grpc::Status DownloadTraced(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                              grpc::ServerWriter<dfd::DownloadResponse>* writer,
                              Outcome* outcome) const;

  DaemonContext* ctx_;
  Downloads* downloads_;
};

class LocalService final : public dfd::Dfdaemon::Service {
 public:
  // `cache` (dfcache's RPCs) must outlive this object.
  LocalService(DaemonContext* ctx, Downloads* downloads, CacheRpcs* cache)
      : rpcs_(ctx, downloads), cache_(cache) {}

  grpc::Status Download(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                        grpc::ServerWriter<dfd::DownloadResponse>* writer) override {
    return rpcs_.Download(context, request, writer);
  }
  grpc::Status StatTask(grpc::ServerContext*, const dfd::StatTaskRequest* request,
                        dfd::TaskInfo* response) override {
    return rpcs_.StatTask(request, response);
  }
  grpc::Status ListTasks(grpc::ServerContext*, const dfd::ListTasksRequest*,
                         dfd::ListTasksResponse* response) override {
    return rpcs_.ListTasks(response);
  }
  grpc::Status DeleteTask(grpc::ServerContext*, const dfd::DeleteTaskRequest* request,
                          dfd::DeleteTaskResponse*) override {
    return rpcs_.DeleteTask(request);
  }
  grpc::Status ListEntries(grpc::ServerContext*, const dfd::ListEntriesRequest* request,
                           dfd::ListEntriesResponse* response) override {
    return rpcs_.ListEntries(request, response);
  }
  grpc::Status ImportCache(grpc::ServerContext*,
                           grpc::ServerReader<dfd::ImportCacheRequest>* reader,
                           dfd::ImportCacheResponse* response) override {
    return cache_->Import(reader, response);
  }
  grpc::Status StatCache(grpc::ServerContext*, const dfd::CacheTaskRequest* request,
                         sched::StatPersistentCacheTaskResponse* response) override {
    return cache_->Stat(*request, response);
  }
  grpc::Status DeleteCache(grpc::ServerContext*, const dfd::CacheTaskRequest* request,
                           sched::DeletePersistentCacheTaskResponse* response) override {
    return cache_->Delete(*request, response);
  }

 private:
  TaskRpcs rpcs_;
  CacheRpcs* cache_;
};

// With TLS (`secure`), only a scheduler triggers a seed or a replica, only the manager runs the
// task RPCs (preheat, stat, delete jobs) -- and the scheduler deletes (a persistent cache task
// deleted cluster-wide); on plaintext anyone reaching the port can.
class UploadService final : public dfd::DfdaemonUpload::Service {
 public:
  UploadService(DaemonContext* ctx, Downloads* downloads, CacheRpcs* cache, bool secure)
      : ctx_(ctx), downloads_(downloads), rpcs_(ctx, downloads), cache_(cache), secure_(secure) {}

  grpc::Status TriggerSeed(grpc::ServerContext* context, const dfd::TriggerSeedRequest* request,
                           dfd::TriggerSeedResponse* response) override;
  // The same as LocalService's (TaskRpcs).
  grpc::Status Download(grpc::ServerContext* context, const dfd::DownloadRequest* request,
                        grpc::ServerWriter<dfd::DownloadResponse>* writer) override {
    if (grpc::Status s = FromManager(*context); !s.ok()) {
      return s;
    }
    return rpcs_.Download(context, request, writer);
  }
  grpc::Status StatTask(grpc::ServerContext* context, const dfd::StatTaskRequest* request,
                        dfd::TaskInfo* response) override {
    if (grpc::Status s = FromManager(*context); !s.ok()) {
      return s;
    }
    return rpcs_.StatTask(request, response);
  }
  grpc::Status DeleteTask(grpc::ServerContext* context, const dfd::DeleteTaskRequest* request,
                          dfd::DeleteTaskResponse*) override {
    if (grpc::Status s = FromManager(*context, /*or_scheduler=*/true); !s.ok()) {
      return s;
    }
    return rpcs_.DeleteTask(request);
  }
  grpc::Status ReplicateCache(grpc::ServerContext* context,
                              const dfd::ReplicateCacheRequest* request,
                              dfd::ReplicateCacheResponse* response) override;

 private:
  grpc::Status FromManager(const grpc::ServerContext& context, bool or_scheduler = false) const;

  DaemonContext* ctx_;
  Downloads* downloads_;
  TaskRpcs rpcs_;
  CacheRpcs* cache_;
  const bool secure_;
};

}  // namespace df::daemon
