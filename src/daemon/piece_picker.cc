#include "daemon/piece_picker.h"

#include <algorithm>

namespace df::daemon {

void PiecePicker::Grow(size_t pieces) {
  if (availability_.size() < pieces) {
    availability_.resize(pieces, 0);
    in_flight_.resize(pieces, 0);
    requested_at_.resize(pieces);
  }
}

void PiecePicker::UpdateParent(int parent, const std::vector<uint8_t>& bitmap) {
  auto p = static_cast<size_t>(parent);
  if (parents_.size() <= p) {
    parents_.resize(p + 1);
    requested_by_.resize(p + 1);
  }
  Grow(bitmap.size() * 8);
  auto& old = parents_[p];
  for (uint32_t n = 0; n < bitmap.size() * 8; ++n) {
    bool had = Bit(old, n);
    bool has = Bit(bitmap, n);
    if (has && !had) {
      availability_[n]++;
    } else if (had && !has) {
      availability_[n]--;
    }
  }
  old = bitmap;
}

void PiecePicker::RemoveParent(int parent) {
  auto p = static_cast<size_t>(parent);
  if (p >= parents_.size()) {
    return;
  }
  UpdateParent(parent, {});
  for (uint32_t n : requested_by_[p]) {
    if (in_flight_[n] > 0) {
      in_flight_[n]--;
    }
  }
  requested_by_[p].clear();
}

bool PiecePicker::ParentHas(int parent, uint32_t n) const {
  auto p = static_cast<size_t>(parent);
  return p < parents_.size() && Bit(parents_[p], n);
}

std::optional<uint32_t> PiecePicker::Pick(int parent, const std::function<bool(uint32_t)>& have,
                                          TimePoint now) {
  auto p = static_cast<size_t>(parent);
  if (p >= parents_.size()) {
    return std::nullopt;
  }
  const auto& mine = requested_by_[p];
  std::vector<uint32_t> best;
  uint32_t best_avail = UINT32_MAX;
  std::vector<uint32_t> endgame;
  for (uint32_t n = 0; n < parents_[p].size() * 8; ++n) {
    if (!Bit(parents_[p], n) || have(n)) {
      continue;
    }
    if (in_flight_[n] > 0) {
      if (in_flight_[n] < 2 && now - requested_at_[n] >= endgame_after_ &&
          std::find(mine.begin(), mine.end(), n) == mine.end()) {
        endgame.push_back(n);
      }
      continue;
    }
    if (availability_[n] < best_avail) {
      best_avail = availability_[n];
      best.clear();
    }
    if (availability_[n] == best_avail) {
      best.push_back(n);
    }
  }
  std::vector<uint32_t>& from = best.empty() ? endgame : best;
  if (from.empty()) {
    return std::nullopt;
  }
  // Candidates are in piece order: choose among the first few.
  size_t window = std::min(from.size(), kWindow);
  uint32_t n = from[std::uniform_int_distribution<size_t>(0, window - 1)(rng_)];
  if (in_flight_[n] == 0) {
    requested_at_[n] = now;
  }
  in_flight_[n]++;
  requested_by_[p].push_back(n);
  return n;
}

void PiecePicker::Finished(uint32_t n, int parent) {
  auto p = static_cast<size_t>(parent);
  if (p < requested_by_.size()) {
    auto& v = requested_by_[p];
    auto it = std::find(v.begin(), v.end(), n);
    if (it != v.end()) {
      v.erase(it);
      if (in_flight_[n] > 0) {
        in_flight_[n]--;
      }
    }
  }
}

}  // namespace df::daemon
