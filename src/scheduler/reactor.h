// The unary reactor every SchedulerService RPC finishes with. Internal to df_scheduler.
#pragma once

#include <grpcpp/grpcpp.h>

#include <utility>

#include "dragonfly/scheduler/service.h"

namespace df::scheduler {

// Runs `fn` (returning a Status) and finishes the call with it.
template <typename Fn>
grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx, Fn&& fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(std::forward<Fn>(fn)()));
  return reactor;
}

}  // namespace df::scheduler
