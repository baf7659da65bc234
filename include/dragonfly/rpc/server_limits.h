// Bounds for the gRPC servers that cross hosts (issue #11, "Bounded everything"). gRPC 1.51 has
// no cap on connections and cannot take connections we accept ourselves when they speak TLS, so
// the bounds are on what a connection can hold: a connection that has not finished its TLS and
// HTTP/2 handshake within 10 s is closed (idle floods drain), dead peers are found by keepalive
// pings, streams per connection are capped, and the threads serving calls are capped (a call
// beyond gets RESOURCE_EXHAUSTED, not a new thread).
#pragma once

#include <grpcpp/server_builder.h>

namespace df::rpc {

struct ServerLimits {
  int max_threads = 256;  // threads serving calls at once (sync API: one per call in progress)
  int max_streams_per_connection = 128;
};

void ApplyServerLimits(grpc::ServerBuilder& builder, const ServerLimits& limits = {});

}  // namespace df::rpc
