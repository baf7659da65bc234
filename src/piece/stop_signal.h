// A one-shot stop flag that sleepers can wait on (so Stop() interrupts rate-limit waits).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace df::piece {

class StopSignal {
 public:
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  // Sleeps for `d` or until Stop(); returns true if stopped.
  template <typename Rep, typename Period>
  bool WaitFor(std::chrono::duration<Rep, Period> d) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, d, [this] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace df::piece
