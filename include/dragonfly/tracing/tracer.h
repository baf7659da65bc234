// Distributed tracing: spans recorded in memory and exported over OTLP (HTTP/protobuf or gRPC)
// by a background thread, in batches, to a collector such as Jaeger. Never on the hot path: a
// span's end only queues it; a full queue (the collector slow or down) drops spans and counts
// them. The config is the components' `tracing:` section.
#pragma once

#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/tracing/context.h"

namespace df::tracing {

struct TracingConfig {
  // "" = tracing off. gRPC: "host:4317" ("https://host:4317" for TLS); HTTP:
  // "http(s)://host:4318" (the path defaults to /v1/traces).
  std::string endpoint;
  enum class Protocol { kGrpc, kHttp } protocol = Protocol::kGrpc;
  std::string service_name;  // resource attribute service.name; default: the component's name
  double sample_rate = 1.0;  // of traces started here; a remote parent's decision is followed
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every export
  size_t max_queue = 4096;  // spans held for export; beyond it they are dropped
  size_t max_batch = 512;
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds export_timeout{5000};
  bool operator==(const TracingConfig&) const = default;
};

// Reads `tracing: {endpoint, protocol: grpc|http, serviceName, sampleRate, headers: {k: v},
// maxQueueSize, exportTimeout}` (a null node: off). `prefix` names the section in errors.
Status ReadTracingConfig(const YAML::Node& node, const std::string& prefix, TracingConfig* out);

enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

// A finished span, as exported.
struct SpanData {
  SpanContext context;
  SpanId parent;  // invalid for a root span
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
  std::vector<std::pair<uint64_t, std::string>> events;  // (time, name)
  bool error = false;
  std::string status_message;
};

class Tracer;

// One operation. Ends (and is queued for export) when End() is called or it is destroyed. A span
// of an unsampled trace records nothing but still carries its context downstream.
class Span {
 public:
  Span() = default;
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span();

  bool recording() const { return data_ != nullptr; }
  const SpanContext& context() const { return context_; }
  void SetAttribute(std::string key, AttributeValue value);
  void AddEvent(std::string name);
  void SetError(std::string message);
  // Moves the span's start to `at` (earlier or later than when it was started): for a span
  // made after the fact from recorded times, e.g. a summary of a neighbour's piece transfers.
  void SetStartTime(std::chrono::steady_clock::time_point at);
  void End();
  // Ends it as of `at` (not before its start).
  void End(std::chrono::steady_clock::time_point at);

 private:
  friend class Tracer;
  Tracer* tracer_ = nullptr;
  SpanContext context_;
  std::unique_ptr<SpanData> data_;
  std::chrono::steady_clock::time_point started_;
};

class Tracer {
 public:
  struct Stats {
    uint64_t exported = 0;  // spans the collector accepted
    uint64_t dropped = 0;   // spans dropped: queue full, or their batch failed
    uint64_t failed_batches = 0;
  };

  // Starts the export thread when `config.endpoint` is set. `metrics` (may be null) gets
  // dragonfly_tracing_spans_total{result="exported|dropped"}.
  static StatusOr<std::unique_ptr<Tracer>> Create(TracingConfig config,
                                                  prometheus::Registry* metrics);
  ~Tracer();  // exports what is queued (within export_timeout), then stops
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  bool enabled() const;
  // A span under `parent` (a local span's context, or a remote one from a traceparent), or a
  // new trace when `parent` is not valid. Tracing off: records nothing and its context is
  // `parent` as it came (no trace starts here).
  Span StartSpan(std::string_view name, SpanKind kind, const SpanContext& parent = {});
  // Exports everything queued now and waits for it (tests, shutdown).
  void Flush();
  Stats stats() const;

 private:
  friend class Span;
  class Impl;
  explicit Tracer(std::unique_ptr<Impl> impl);
  void Finish(std::unique_ptr<SpanData> span);

  std::unique_ptr<Impl> impl_;
};

}  // namespace df::tracing
