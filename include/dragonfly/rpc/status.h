// The one place where df::Status and grpc::Status are translated (both use the canonical codes).
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "dragonfly/common/status.h"

namespace df::rpc {

grpc::Status ToGrpc(const Status& status);
// `context`, when given, prefixes the message ("scheduler 10.0.0.2:8002: ...").
Status FromGrpc(const grpc::Status& status, const std::string& context = "");
// The answer of a server that was reached (a client of the local dfdaemon): as FromGrpc, but the
// server's UNAVAILABLE (its origin or its peers were) becomes ABORTED, so that Unavailable keeps
// meaning "could not reach the server" (exit code 3 of the clients, docs/deploy.md).
Status FromServerAnswer(const grpc::Status& status);

}  // namespace df::rpc
