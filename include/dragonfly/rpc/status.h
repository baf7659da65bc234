// The one place where df::Status and grpc::Status are translated (both use the canonical codes).
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "dragonfly/common/status.h"

namespace df::rpc {

grpc::Status ToGrpc(const Status& status);
// `context`, when given, prefixes the message ("scheduler 10.0.0.2:8002: ...").
Status FromGrpc(const grpc::Status& status, const std::string& context = "");

}  // namespace df::rpc
