// The persistent cache task RPCs of SchedulerService (dfcache, docs/dfcache.md).
#include "dragonfly/rpc/tls.h"
#include "dragonfly/scheduler/service.h"
#include "scheduler/reactor.h"

namespace df::scheduler {
namespace {

// The registry, once the caller has one of `roles` (with TLS).
StatusOr<PersistentCacheRegistry*> Registry(PersistentCacheRegistry* cache,
                                            const grpc::CallbackServerContext& ctx, bool secure,
                                            std::initializer_list<security::Role> roles) {
  if (cache == nullptr) {
    return FailedPrecondition("this scheduler keeps no persistent cache");
  }
  DF_RETURN_IF_ERROR(rpc::RequireRole(ctx, secure, roles).status());
  return cache;
}

}  // namespace

grpc::ServerUnaryReactor* SchedulerService::AnnouncePersistentCacheTask(
    grpc::CallbackServerContext* ctx, const api::AnnouncePersistentCacheTaskRequest* req,
    api::AnnouncePersistentCacheTaskResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    if (cache_ == nullptr) {
      return FailedPrecondition("this scheduler keeps no persistent cache");
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
    DF_ASSIGN_OR_RETURN(
        PersistentCacheRegistry * cache,
        Registry(cache_, *ctx, secure_,
                 {security::Role::kDaemon, security::Role::kSeedPeer, security::Role::kManager}));
    DF_ASSIGN_OR_RETURN(const TaskId id, TaskId::Parse(req->task_id()));
    *resp = cache->Stat(id);
    return Status::Ok();
  });
}

// Any host of the cluster may delete a persistent cache task (dfcache delete), as in Dragonfly;
// and the manager.
grpc::ServerUnaryReactor* SchedulerService::DeletePersistentCacheTask(
    grpc::CallbackServerContext* ctx, const api::DeletePersistentCacheTaskRequest* req,
    api::DeletePersistentCacheTaskResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    DF_ASSIGN_OR_RETURN(
        PersistentCacheRegistry * cache,
        Registry(cache_, *ctx, secure_,
                 {security::Role::kDaemon, security::Role::kSeedPeer, security::Role::kManager}));
    DF_ASSIGN_OR_RETURN(const TaskId id, TaskId::Parse(req->task_id()));
    DF_ASSIGN_OR_RETURN(*resp, cache->Delete(id));
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* SchedulerService::ListPersistentCacheTasks(
    grpc::CallbackServerContext* ctx, const api::ListPersistentCacheTasksRequest* /*req*/,
    api::ListPersistentCacheTasksResponse* resp) {
  return Finish(ctx, [&]() -> Status {
    DF_ASSIGN_OR_RETURN(PersistentCacheRegistry * cache,
                        Registry(cache_, *ctx, secure_, {security::Role::kManager}));
    *resp = cache->List();
    return Status::Ok();
  });
}

}  // namespace df::scheduler
