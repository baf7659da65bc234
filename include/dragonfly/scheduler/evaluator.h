// Neighbour scoring. A pure function of a few features of one candidate neighbour ("parent")
// and the peer asking ("child"); higher is better, in [0, 1]. Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace df::scheduler {

struct EvalInput {
  uint32_t upload_slots = 0;       // the candidate host's concurrent uploads, > 0
  uint32_t active_uploads = 0;     // uploads it reported under way
  double throughput_bps = 0;       // parent host EWMA bytes/s; 0 = not measured yet
  double best_throughput_bps = 0;  // highest EWMA among the candidates; 0 = none measured
  double progress = 0;             // finished / total pieces; 1 for a succeeded parent
  bool parent_is_seed = false;
  bool seed_is_sole_source = false;  // no normal peer of the task has succeeded yet
  std::string_view parent_idc;
  std::string_view child_idc;
  std::string_view parent_location;  // "country|province|city|..."
  std::string_view child_location;
};

// Weights; they sum to 1.
inline constexpr double kThroughputWeight = 0.30;
inline constexpr double kFreeSlotsWeight = 0.20;
inline constexpr double kProgressWeight = 0.15;
inline constexpr double kIdcWeight = 0.15;
inline constexpr double kLocationWeight = 0.10;
inline constexpr double kHostTypeWeight = 0.10;

double Evaluate(const EvalInput& in);

// Matched leading "|"-separated elements / 5, capped at 1; 0 when either is empty.
double LocationAffinity(std::string_view a, std::string_view b);

// 1 when both are non-empty and equal ignoring ASCII case.
double IdcAffinity(std::string_view a, std::string_view b);

}  // namespace df::scheduler
