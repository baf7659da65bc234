// Spans of piece transfers (docs/tracing.md): what a download got from each neighbour, one span
// per neighbour (never one per piece), and what this host served a traced neighbour's download.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "dragonfly/common/status.h"
#include "dragonfly/piece/swarm.h"
#include "dragonfly/tracing/tracer.h"

namespace df::daemon {

// Per-neighbour tallies of one download. Thread-safe (the exchange's network thread records,
// the download's thread emits).
class NeighbourLedger {
 public:
  // At most this many neighbours get a span; the rest are counted on the parent.
  static constexpr size_t kMaxSpans = 64;

  void Piece(const std::string& peer_id, bool seed, uint32_t bytes);
  void Failed(const std::string& peer_id, const Status& why);
  // One "dfdaemon.pieces" span per neighbour that sent pieces or failed, under `parent`, from
  // its first piece to its last; returns how many neighbours were left out (over kMaxSpans).
  size_t Emit(tracing::Tracer& tracer, const tracing::SpanContext& parent);

 private:
  struct Entry {
    bool seed = false;
    uint32_t pieces = 0;
    uint64_t bytes = 0;
    std::chrono::steady_clock::time_point first{}, last{};
    uint32_t failures = 0;
    std::string error;
  };
  std::mutex mu_;
  std::map<std::string, Entry> by_peer_;
};

// The "dfdaemon.serve_pieces" span, in the neighbour's trace, of the pieces served to it.
void RecordServedSpan(tracing::Tracer& tracer, const piece::ServedNeighbour& served);

}  // namespace df::daemon
