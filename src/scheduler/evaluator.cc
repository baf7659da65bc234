#include "dragonfly/scheduler/evaluator.h"

#include <algorithm>
#include <cctype>

namespace df::scheduler {
namespace {

constexpr int kMaxLocationElements = 5;

// Next "|"-separated element of `s` starting at *pos; advances *pos past the separator.
std::string_view NextElement(std::string_view s, size_t* pos) {
  size_t end = s.find('|', *pos);
  if (end == std::string_view::npos) {
    end = s.size();
  }
  std::string_view e = s.substr(*pos, end - *pos);
  *pos = end + 1;
  return e;
}

}  // namespace

double LocationAffinity(std::string_view a, std::string_view b) {
  if (a.empty() || b.empty()) {
    return 0;
  }
  size_t pa = 0;
  size_t pb = 0;
  int matched = 0;
  while (matched < kMaxLocationElements && pa <= a.size() && pb <= b.size()) {
    if (NextElement(a, &pa) != NextElement(b, &pb)) {
      break;
    }
    ++matched;
  }
  return static_cast<double>(matched) / kMaxLocationElements;
}

double IdcAffinity(std::string_view a, std::string_view b) {
  if (a.empty() || a.size() != b.size()) {
    return 0;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return 0;
    }
  }
  return 1;
}

double Evaluate(const EvalInput& in) {
  double free_slots = 0;
  if (in.upload_slots > 0 && in.active_uploads < in.upload_slots) {
    free_slots = static_cast<double>(in.upload_slots - in.active_uploads) / in.upload_slots;
  }
  // An unmeasured host gets a neutral score so that it is tried.
  double throughput = 0.5;
  if (in.throughput_bps > 0 && in.best_throughput_bps > 0) {
    throughput = std::min(1.0, in.throughput_bps / in.best_throughput_bps);
  }
  double progress = std::clamp(in.progress, 0.0, 1.0);
  // A seed is preferred while it is the only one with content, normal peers afterwards.
  double host_type = 0.5;
  if (in.parent_is_seed) {
    host_type = in.seed_is_sole_source ? 1.0 : 0.0;
  }
  return kThroughputWeight * throughput + kFreeSlotsWeight * free_slots +
         kProgressWeight * progress + kIdcWeight * IdcAffinity(in.parent_idc, in.child_idc) +
         kLocationWeight * LocationAffinity(in.parent_location, in.child_location) +
         kHostTypeWeight * host_type;
}

}  // namespace df::scheduler
