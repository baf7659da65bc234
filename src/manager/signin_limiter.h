// Throttles password guessing: failed sign-ins are counted per user name and per client address
// in a fixed window; past a limit, further attempts are refused until the window ends, before
// any password is checked. In memory, per manager replica (N replicas allow N times the limit).
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace df::manager {

class SignInLimiter {
 public:
  struct Options {
    int per_user = 5;      // failures per user name per window
    int per_address = 20;  // failures per client address per window
    std::chrono::seconds window{900};
    size_t max_keys = 100000;  // bound on the state: expired entries go first, then all
  };
  SignInLimiter() : SignInLimiter(Options{}) {}
  explicit SignInLimiter(Options o) : opts_(o) {}

  // Seconds until `name` / `address` may try again; 0: now.
  int64_t RetryAfter(const std::string& name, const std::string& address, int64_t now_ms);
  void Failed(const std::string& name, const std::string& address, int64_t now_ms);
  void Succeeded(const std::string& name);

 private:
  struct Window {
    int64_t start_ms = 0;
    int failures = 0;
  };
  int64_t Wait(const std::string& key, int limit, int64_t now_ms) const;
  void Count(const std::string& key, int64_t now_ms);

  const Options opts_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // "u:<lower-case name>", "a:<address>"
};

}  // namespace df::manager
