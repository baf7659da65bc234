// A token bucket shared by all upload connections of a piece server. Callers reserve tokens
// before each chunk they send, possibly going into debt, and wait for the returned delay, so
// concurrent senders together stay at the configured rate. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace df::piece {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // `burst_bytes` 0 = a tenth of a second's worth, clamped to [64 KiB, 1 MiB].
  explicit TokenBucket(uint64_t rate_bytes_per_sec, uint64_t burst_bytes = 0);

  // Takes `n` tokens and returns how long the caller must wait before sending them.
  std::chrono::nanoseconds Reserve(uint64_t n) { return Reserve(n, Clock::now()); }
  std::chrono::nanoseconds Reserve(uint64_t n, Clock::time_point now);

  // Largest chunk a sender should reserve at once (the burst size).
  uint64_t chunk_size() const { return burst_; }

 private:
  const double rate_;  // bytes per second
  const uint64_t burst_;
  std::mutex mu_;
  double tokens_;  // may go negative (debt)
  Clock::time_point last_;
};

}  // namespace df::piece
