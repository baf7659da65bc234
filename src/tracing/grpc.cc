#include "dragonfly/tracing/grpc.h"

namespace df::tracing {

void InjectCurrent(grpc::ClientContext* ctx) {
  const SpanContext& c = CurrentContext();
  if (c.valid()) {
    ctx->AddMetadata("traceparent", c.ToTraceparent());
  }
}

SpanContext Extract(const grpc::ServerContextBase& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("traceparent");
  if (it == md.end()) {
    return {};
  }
  auto c = SpanContext::FromTraceparent(std::string_view(it->second.data(), it->second.size()));
  return c ? *c : SpanContext{};
}

}  // namespace df::tracing
