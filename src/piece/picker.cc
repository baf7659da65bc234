#include "piece/picker.h"

#include <algorithm>

namespace df::piece {

void Picker::Resize(uint32_t total) {
  if (total <= have_.size()) {
    return;
  }
  uint32_t added = total - static_cast<uint32_t>(have_.size());
  have_.resize(total, false);
  holders_.resize(total, 0);
  peer_holders_.resize(total, 0);
  flights_.resize(total);
  missing_ += added;
  not_in_flight_ += added;
}

void Picker::SetHave(uint32_t n) {
  Resize(n + 1);
  if (have_[n]) {
    return;
  }
  have_[n] = true;
  missing_--;
  if (flights_[n].empty()) {
    not_in_flight_--;
  }
}

void Picker::AddHolder(uint32_t n, bool seed) {
  Resize(n + 1);
  holders_[n]++;
  if (!seed) {
    peer_holders_[n]++;
  }
}

void Picker::RemoveHolder(uint32_t n, bool seed) {
  if (n >= holders_.size() || holders_[n] == 0) {
    return;
  }
  holders_[n]--;
  if (!seed && peer_holders_[n] > 0) {
    peer_holders_[n]--;
  }
}

void Picker::Requested(uint32_t n, LinkId from, Clock::time_point now) {
  Resize(n + 1);
  if (flights_[n].empty() && !have_[n]) {
    not_in_flight_--;
  }
  flights_[n].push_back({from, now});
}

void Picker::Settled(uint32_t n, LinkId from) {
  if (n >= flights_.size()) {
    return;
  }
  auto& f = flights_[n];
  auto it = std::find_if(f.begin(), f.end(), [&](const Flight& x) { return x.from == from; });
  if (it == f.end()) {
    return;
  }
  f.erase(it);
  if (f.empty() && !have_[n]) {
    not_in_flight_++;
  }
}

std::optional<uint32_t> Picker::Pick(const Neighbour& nb, Clock::time_point now) {
  if (missing_ == 0) {
    return std::nullopt;
  }
  if (not_in_flight_ == 0) {
    return PickEndgame(nb, now);
  }
  std::optional<uint32_t> best;
  uint32_t best_holders = UINT32_MAX;
  uint64_t ties = 0;
  const auto total = static_cast<uint32_t>(have_.size());
  for (uint32_t n = 0; n < total; ++n) {
    if (have_[n] || !flights_[n].empty() || !nb.has(n)) {
      continue;
    }
    // A seed peer is the source of last resort for pieces another neighbour holds.
    if (nb.seed && peer_holders_[n] > 0) {
      continue;
    }
    if (nb.refused && nb.refused(n)) {
      continue;
    }
    uint32_t h = holders_[n];
    if (h < best_holders) {
      best = n;
      best_holders = h;
      ties = 1;
    } else if (h == best_holders && rng_() % ++ties == 0) {
      best = n;  // reservoir sampling: uniform among the equally rare
    }
  }
  return best;
}

std::optional<uint32_t> Picker::PickEndgame(const Neighbour& nb, Clock::time_point now) const {
  std::optional<uint32_t> oldest;
  Clock::time_point oldest_at = now;
  const auto total = static_cast<uint32_t>(have_.size());
  for (uint32_t n = 0; n < total; ++n) {
    const auto& f = flights_[n];
    if (have_[n] || f.size() != 1 || f[0].from == nb.id || !nb.has(n)) {
      continue;
    }
    if (now - f[0].at >= endgame_after_ && f[0].at < oldest_at) {
      oldest = n;
      oldest_at = f[0].at;
    }
  }
  return oldest;
}

void Picker::RecordLatency(std::chrono::milliseconds latency) {
  auto ms = static_cast<double>(latency.count());
  latency_ms_ = latency_ms_ == 0 ? ms : 0.8 * latency_ms_ + 0.2 * ms;
  endgame_after_ =
      std::max(min_endgame_, std::chrono::milliseconds(static_cast<int64_t>(2 * latency_ms_)));
}

}  // namespace df::piece
