// PiecePicker: which piece to ask a parent for next. Rarest first among the pieces the parent
// has and we lack; among equally rare ones, a random one of the lowest-numbered few (so children
// of one seed fetch different pieces and can trade them, while a local client streaming the
// file in order still gets its bytes early). In the endgame (everything missing is already in
// flight) a piece that has been in flight longer than `endgame_after` may be requested from a
// second parent, so one slow parent cannot hold up the tail. Thread-compatible: the caller holds
// its lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <vector>

#include "dragonfly/storage/task_store.h"

namespace df::daemon {

class PiecePicker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  static constexpr size_t kWindow = 4;  // equally rare candidates to choose among

  explicit PiecePicker(uint64_t seed,
                       std::chrono::milliseconds endgame_after = std::chrono::seconds(2))
      : rng_(seed), endgame_after_(endgame_after) {}

  // Replaces what `parent` is known to have.
  void UpdateParent(int parent, const std::vector<uint8_t>& bitmap);
  void RemoveParent(int parent);
  bool ParentHas(int parent, uint32_t n) const;

  // Picks a piece for `parent`; `have(n)` tells whether we already store piece n.
  std::optional<uint32_t> Pick(int parent, const std::function<bool(uint32_t)>& have,
                               TimePoint now = std::chrono::steady_clock::now());
  // The piece arrived, or its request failed.
  void Finished(uint32_t n, int parent);

  int in_flight(uint32_t n) const { return n < in_flight_.size() ? in_flight_[n] : 0; }
  // How long a request must be outstanding before the endgame may duplicate it; callers raise
  // it on slow (saturated) links so duplicates do not eat scarce upload.
  void set_endgame_after(std::chrono::milliseconds d) { endgame_after_ = d; }

 private:
  void Grow(size_t pieces);
  static bool Bit(const std::vector<uint8_t>& b, uint32_t n) {
    return n / 8 < b.size() && ((b[n / 8] >> (n % 8)) & 1) != 0;
  }

  std::mt19937_64 rng_;
  std::chrono::milliseconds endgame_after_;
  std::vector<TimePoint> requested_at_;        // first request time of pieces in flight
  std::vector<std::vector<uint8_t>> parents_;  // by parent index
  std::vector<uint16_t> availability_;
  std::vector<uint8_t> in_flight_;                   // requests outstanding per piece
  std::vector<std::vector<uint32_t>> requested_by_;  // parent → pieces in flight there
};

}  // namespace df::daemon
