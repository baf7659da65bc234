#include "daemon/piece_spans.h"

namespace df::daemon {

void NeighbourLedger::Piece(const std::string& peer_id, bool seed, uint32_t bytes) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  Entry& e = by_peer_[peer_id];
  if (e.pieces == 0) {
    e.first = now;
  }
  e.seed = e.seed || seed;
  e.pieces++;
  e.bytes += bytes;
  e.last = now;
}

void NeighbourLedger::Failed(const std::string& peer_id, const Status& why) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  Entry& e = by_peer_[peer_id];
  if (e.pieces == 0 && e.failures == 0) {
    e.first = now;
  }
  e.failures++;
  e.error = why.ToString();
  e.last = now;
}

size_t NeighbourLedger::Emit(tracing::Tracer& tracer, const tracing::SpanContext& parent) {
  std::lock_guard lock(mu_);
  size_t emitted = 0;
  for (const auto& [peer_id, e] : by_peer_) {
    if (emitted == kMaxSpans) {
      break;
    }
    ++emitted;
    tracing::Span span = tracer.StartSpan("dfdaemon.pieces", tracing::SpanKind::kClient, parent);
    span.SetStartTime(e.first);
    span.SetAttribute("dragonfly.neighbour.peer_id", peer_id);
    span.SetAttribute("dragonfly.neighbour.seed", e.seed);
    span.SetAttribute("dragonfly.pieces", static_cast<int64_t>(e.pieces));
    span.SetAttribute("dragonfly.bytes", static_cast<int64_t>(e.bytes));
    if (e.failures > 0) {
      span.SetAttribute("dragonfly.failures", static_cast<int64_t>(e.failures));
      span.SetError(e.error);
    }
    span.End(e.last);
  }
  return by_peer_.size() - emitted;
}

void RecordServedSpan(tracing::Tracer& tracer, const piece::ServedNeighbour& served) {
  auto parent = tracing::SpanContext::FromTraceparent(served.trace_parent);
  if (!parent) {
    return;  // a malformed one from a neighbour: no span, nothing else changes
  }
  tracing::Span span =
      tracer.StartSpan("dfdaemon.serve_pieces", tracing::SpanKind::kServer, *parent);
  span.SetStartTime(served.connected_at);
  span.SetAttribute("dragonfly.task_id", served.task_id);
  span.SetAttribute("dragonfly.neighbour.peer_id", served.peer_id);
  span.SetAttribute("dragonfly.pieces", static_cast<int64_t>(served.pieces));
  span.SetAttribute("dragonfly.bytes", static_cast<int64_t>(served.bytes));
  span.SetAttribute("dragonfly.ended", served.ended);
  span.End(served.last_sent_at);
}

}  // namespace df::daemon
