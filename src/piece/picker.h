// Picker: which piece to request from a neighbour next. Rarest first among the pieces the
// neighbour has and we lack, random among the equally rare; a seed peer is asked only for
// pieces no other neighbour has (so the seed's uplink carries new pieces, and peers trade the
// rest). In the endgame (every missing piece is in flight) a piece outstanding longer than the
// endgame threshold may be requested from a second neighbour. Single-threaded (the exchange's).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <vector>

namespace df::piece {

using Clock = std::chrono::steady_clock;
using LinkId = uint64_t;

class Picker {
 public:
  explicit Picker(uint64_t seed) : rng_(seed) {}

  // What the picker needs to know about the neighbour it picks for.
  struct Neighbour {
    LinkId id = 0;
    bool seed = false;
    std::function<bool(uint32_t)> has;      // the neighbour holds piece n
    std::function<bool(uint32_t)> refused;  // asked recently and told to go elsewhere
  };

  // Sets the piece count (grows the tables; never shrinks).
  void Resize(uint32_t total);
  uint32_t total() const { return static_cast<uint32_t>(have_.size()); }

  void SetHave(uint32_t n);
  bool have(uint32_t n) const { return n < have_.size() && have_[n]; }
  uint32_t missing() const { return missing_; }

  // A neighbour announced (or no longer counts for) piece n.
  void AddHolder(uint32_t n, bool seed);
  void RemoveHolder(uint32_t n, bool seed);
  uint32_t holders(uint32_t n) const { return n < holders_.size() ? holders_[n] : 0; }

  void Requested(uint32_t n, LinkId from, Clock::time_point now);
  // The request of n from `from` ended (arrival, rejection, cancellation, the link's end).
  void Settled(uint32_t n, LinkId from);
  size_t in_flight(uint32_t n) const { return n < flights_.size() ? flights_[n].size() : 0; }

  // Next piece to request from `nb`, or nothing.
  std::optional<uint32_t> Pick(const Neighbour& nb, Clock::time_point now);

  // Request-to-arrival time of a piece; the endgame threshold follows twice its running
  // average (at least `min_endgame`).
  void RecordLatency(std::chrono::milliseconds latency);
  std::chrono::milliseconds endgame_after() const { return endgame_after_; }
  void set_min_endgame(std::chrono::milliseconds d) { min_endgame_ = endgame_after_ = d; }

 private:
  struct Flight {
    LinkId from;
    Clock::time_point at;
  };
  std::optional<uint32_t> PickEndgame(const Neighbour& nb, Clock::time_point now) const;

  std::mt19937_64 rng_;
  std::vector<bool> have_;
  uint32_t missing_ = 0;
  std::vector<uint32_t> holders_;       // neighbours holding piece n
  std::vector<uint32_t> peer_holders_;  // of them, not seed peers
  std::vector<std::vector<Flight>> flights_;
  uint32_t not_in_flight_ = 0;  // missing pieces with no request outstanding
  double latency_ms_ = 0;
  std::chrono::milliseconds min_endgame_{500};
  std::chrono::milliseconds endgame_after_{500};
};

}  // namespace df::piece
