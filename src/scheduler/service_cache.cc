// The persistent cache task RPCs of SchedulerService (dfcache, docs/dfcache.md).
#include "dragonfly/rpc/tls.h"
#include "dragonfly/scheduler/service.h"

namespace df::scheduler {
namespace {

template <typename Fn>
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, Fn&& fn) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(std::forward<Fn>(fn)()));
  return reactor;
}

Status Unimplemented() { return FailedPrecondition("this scheduler keeps no persistent cache"); }

}  // namespace

grpc::ServerUnaryReactor* SchedulerService::AnnouncePersistentCacheTask(
    grpc::CallbackServerContext* ctx, const api::AnnouncePersistentCacheTaskRequest* req,
    api::AnnouncePersistentCacheTaskResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    if (cache_ == nullptr) {
      return Unimplemented();
    }
    DF_ASSIGN_OR_RETURN(security::Identity caller, Caller(ctx));
    DF_RETURN_IF_ERROR(ActsFor(caller, req->host_id()));
    DF_RETURN_IF_ERROR(ActsForPeer(caller, req->peer_id()));
    DF_ASSIGN_OR_RETURN(*resp, cache_->Announce(*req));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SchedulerService::StatPersistentCacheTask(
    grpc::CallbackServerContext* ctx, const api::StatPersistentCacheTaskRequest* req,
    api::StatPersistentCacheTaskResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    if (cache_ == nullptr) {
      return Unimplemented();
    }
    DF_RETURN_IF_ERROR(rpc::RequireRole(*ctx, secure_,
                                        {security::Role::kDaemon, security::Role::kSeedPeer,
                                         security::Role::kManager})
                           .status());
    DF_ASSIGN_OR_RETURN(const TaskId id, TaskId::Parse(req->task_id()));
    *resp = cache_->Stat(id);
    return Status::Ok();
  });
}

// Any host of the cluster may delete a persistent cache task (dfcache delete), as in Dragonfly;
// and the manager.
grpc::ServerUnaryReactor* SchedulerService::DeletePersistentCacheTask(
    grpc::CallbackServerContext* ctx, const api::DeletePersistentCacheTaskRequest* req,
    api::DeletePersistentCacheTaskResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    if (cache_ == nullptr) {
      return Unimplemented();
    }
    DF_RETURN_IF_ERROR(rpc::RequireRole(*ctx, secure_,
                                        {security::Role::kDaemon, security::Role::kSeedPeer,
                                         security::Role::kManager})
                           .status());
    DF_ASSIGN_OR_RETURN(const TaskId id, TaskId::Parse(req->task_id()));
    DF_ASSIGN_OR_RETURN(*resp, cache_->Delete(id));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SchedulerService::ListPersistentCacheTasks(
    grpc::CallbackServerContext* ctx, const api::ListPersistentCacheTasksRequest* /*req*/,
    api::ListPersistentCacheTasksResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    if (cache_ == nullptr) {
      return Unimplemented();
    }
    DF_RETURN_IF_ERROR(rpc::RequireRole(*ctx, secure_, {security::Role::kManager}).status());
    *resp = cache_->List();
    return Status::Ok();
  });
}

}  // namespace df::scheduler
