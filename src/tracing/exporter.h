// OTLP export of finished spans: the request a batch becomes, and the two transports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/tracing/tracer.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace df::tracing {

namespace otlp = opentelemetry::proto::collector::trace::v1;

// One ResourceSpans (service.name and the process's host name) with one ScopeSpans ("dragonfly").
otlp::ExportTraceServiceRequest BuildRequest(const std::string& service_name,
                                             const std::vector<SpanData>& spans);

class Exporter {
 public:
  virtual ~Exporter() = default;
  // Sends one batch; an error when the collector did not take it (unreachable, timeout, non-2xx
  // or a gRPC error).
  virtual Status Export(const otlp::ExportTraceServiceRequest& request) = 0;
};

// OTLP/gRPC (TraceService/Export) or OTLP/HTTP (POST application/x-protobuf), per `config`.
StatusOr<std::unique_ptr<Exporter>> MakeExporter(const TracingConfig& config);

}  // namespace df::tracing
