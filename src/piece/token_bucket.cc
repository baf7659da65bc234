#include "piece/token_bucket.h"

#include <algorithm>

namespace df::piece {
namespace {

constexpr uint64_t kMinBurst = 64u << 10;
constexpr uint64_t kMaxBurst = 1u << 20;

}  // namespace

TokenBucket::TokenBucket(uint64_t rate_bytes_per_sec, uint64_t burst_bytes)
    : rate_(static_cast<double>(std::max<uint64_t>(rate_bytes_per_sec, 1))),
      burst_(burst_bytes != 0
                 ? burst_bytes
                 : std::clamp<uint64_t>(rate_bytes_per_sec / 10, kMinBurst, kMaxBurst)),
      tokens_(static_cast<double>(burst_)),
      last_(Clock::now()) {}

std::chrono::nanoseconds TokenBucket::Reserve(uint64_t n, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(static_cast<double>(burst_), tokens_ + elapsed * rate_);
    last_ = now;
  }
  tokens_ -= static_cast<double>(n);
  if (tokens_ >= 0) {
    return std::chrono::nanoseconds(0);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / rate_ * 1e9));
}

}  // namespace df::piece
