// W3C Trace Context: the IDs of a trace and a span, and the `traceparent` header that carries them
// between processes (HTTP headers, gRPC metadata, the piece protocol).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace df::tracing {

struct TraceId {
  std::array<uint8_t, 16> bytes{};
  bool valid() const;  // not all zero
  std::string Hex() const;
  bool operator==(const TraceId&) const = default;
  static TraceId Random();
};

struct SpanId {
  std::array<uint8_t, 8> bytes{};
  bool valid() const;
  std::string Hex() const;
  bool operator==(const SpanId&) const = default;
  static SpanId Random();
};

// Where a span sits: its trace, itself, and whether the trace is sampled (recorded).
struct SpanContext {
  TraceId trace_id;
  SpanId span_id;
  bool sampled = false;
  bool remote = false;  // came from another process

  bool valid() const { return trace_id.valid() && span_id.valid(); }
  // "00-<trace id>-<span id>-<flags>"; "" when not valid.
  std::string ToTraceparent() const;
  // Version 00 and later versions' first four fields; nullopt for anything malformed (wrong
  // lengths, upper-case or non-hex digits, all-zero IDs, version ff), as the spec says to
  // ignore such a header and start a new trace.
  static std::optional<SpanContext> FromTraceparent(std::string_view header);
};

// The span this thread works for: outgoing calls made on it (gRPC metadata, HTTP headers) carry
// it as their traceparent, and log lines written on it name its trace and span.
const SpanContext& CurrentContext();

// Makes `context` the thread's current one for its lifetime (then restores the previous one).
class ScopedContext {
 public:
  explicit ScopedContext(const SpanContext& context);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  SpanContext previous_;
};

// OpenTelemetry's TraceIdRatioBased: sampled when the trace ID's last 8 bytes (big-endian), as
// a fraction of 2^64, are below `rate`. The same trace ID gives the same answer everywhere.
bool SampledByRatio(const TraceId& id, double rate);

}  // namespace df::tracing
