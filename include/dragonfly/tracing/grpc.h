// W3C trace context in gRPC metadata ("traceparent"), as OpenTelemetry's propagators carry it.
#pragma once

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include "dragonfly/tracing/context.h"

namespace df::tracing {

// Adds the thread's current context (CurrentContext()) to an outgoing call, if there is one.
void InjectCurrent(grpc::ClientContext* ctx);
// The caller's context, from its metadata; invalid (a new trace starts) when absent or malformed.
SpanContext Extract(const grpc::ServerContextBase& ctx);

}  // namespace df::tracing
