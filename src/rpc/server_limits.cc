#include "dragonfly/rpc/server_limits.h"

#include <grpcpp/resource_quota.h>

namespace df::rpc {

void ApplyServerLimits(grpc::ServerBuilder& b, const ServerLimits& limits) {
  b.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10000);
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_streams_per_connection);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  grpc::ResourceQuota quota("df-server");
  quota.SetMaxThreads(limits.max_threads);
  b.SetResourceQuota(quota);
}

}  // namespace df::rpc
