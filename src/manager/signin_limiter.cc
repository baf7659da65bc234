#include "manager/signin_limiter.h"

#include <algorithm>
#include <cctype>

namespace df::manager {
namespace {

std::string UserKey(const std::string& name) {
  std::string k = "u:" + name.substr(0, 256);
  std::transform(k.begin(), k.end(), k.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return k;
}

}  // namespace

int64_t SignInLimiter::Wait(const std::string& key, int limit, int64_t now_ms) const {
  auto it = windows_.find(key);
  if (it == windows_.end() || it->second.failures < limit) {
    return 0;
  }
  int64_t end = it->second.start_ms + opts_.window.count() * 1000;
  return end <= now_ms ? 0 : (end - now_ms + 999) / 1000;
}

int64_t SignInLimiter::RetryAfter(const std::string& name, const std::string& address,
                                  int64_t now_ms) {
  std::lock_guard lock(mu_);
  return std::max(Wait(UserKey(name), opts_.per_user, now_ms),
                  address.empty() ? 0 : Wait("a:" + address, opts_.per_address, now_ms));
}

void SignInLimiter::Count(const std::string& key, int64_t now_ms) {
  if (windows_.size() >= opts_.max_keys && windows_.count(key) == 0) {
    std::erase_if(windows_, [&](const auto& kv) {
      return kv.second.start_ms + opts_.window.count() * 1000 <= now_ms;
    });
    if (windows_.size() >= opts_.max_keys) {
      windows_.clear();  // a flood of distinct names: start over rather than grow
    }
  }
  Window& w = windows_[key];
  if (w.failures == 0 || w.start_ms + opts_.window.count() * 1000 <= now_ms) {
    w = {now_ms, 0};
  }
  w.failures++;
}

void SignInLimiter::Failed(const std::string& name, const std::string& address, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Count(UserKey(name), now_ms);
  if (!address.empty()) {
    Count("a:" + address, now_ms);
  }
}

void SignInLimiter::Succeeded(const std::string& name) {
  std::lock_guard lock(mu_);
  windows_.erase(UserKey(name));
}

}  // namespace df::manager
