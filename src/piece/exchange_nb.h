// The exchange's record of one neighbour. Internal to exchange*.cc.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "piece/exchange.h"

namespace df::piece {

struct Exchange::Nb {
  LinkId id = 0;
  NeighbourLink* link = nullptr;
  std::string peer_id;
  bool seed = false;
  bool bitfield = false;                              // its BITFIELD arrived
  std::vector<bool> has;                              // what it announced
  std::map<uint32_t, Clock::time_point> outstanding;  // our requests to it
  std::set<uint32_t> cancelled;  // requests we cancelled: their pieces may still arrive
  std::map<uint32_t, Clock::time_point> refused_until;  // told "elsewhere" by a seed
  std::vector<uint32_t> sending;                        // pieces we are sending it
  std::vector<uint32_t> told_elsewhere;                 // seed: refused to it once already
  Clock::time_point busy_until{};
  uint32_t lies = 0;   // pieces it announced and then refused as not available
  uint32_t count = 0;  // pieces it announced
  NeighbourStats stats;
  // For the serving side's span of the neighbour's trace (ServedNeighbour).
  std::string trace_parent;
  Clock::time_point connected_at{};
  Clock::time_point last_sent_at{};
  uint32_t served_pieces = 0;
  uint64_t served_bytes = 0;

  bool Has(uint32_t n) const { return n < has.size() && has[n]; }
};

}  // namespace df::piece
