// An injectable monotonic clock so that TTL logic can be tested without sleeping.
#pragma once

#include <chrono>

namespace df::scheduler {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// std::chrono::steady_clock. Thread-safe; lives for the whole program.
const Clock* SteadyClock();

}  // namespace df::scheduler
