#include "dragonfly/common/hash_ring.h"

#include <algorithm>

namespace df {

uint64_t StableHash(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

void HashRing::Add(const std::string& node) {
  if (!nodes_.insert(node).second) {
    return;
  }
  for (int i = 0; i < virtual_nodes_; ++i) {
    ring_.emplace(StableHash(node + "#" + std::to_string(i)), node);
  }
}

void HashRing::Remove(const std::string& node) {
  if (nodes_.erase(node) == 0) {
    return;
  }
  for (auto it = ring_.begin(); it != ring_.end();) {
    it = it->second == node ? ring_.erase(it) : std::next(it);
  }
}

std::string HashRing::Pick(std::string_view key,
                           const std::function<bool(const std::string&)>& usable) const {
  if (ring_.empty()) {
    return "";
  }
  auto start = ring_.lower_bound(StableHash(key));
  auto it = start;
  for (size_t n = 0; n < ring_.size(); ++n, ++it) {
    if (it == ring_.end()) {
      it = ring_.begin();
    }
    if (!usable || usable(it->second)) {
      return it->second;
    }
  }
  return "";
}

std::vector<std::string> HashRing::Order(std::string_view key) const {
  std::vector<std::string> out;
  if (ring_.empty()) {
    return out;
  }
  out.reserve(nodes_.size());
  auto it = ring_.lower_bound(StableHash(key));
  for (size_t n = 0; n < ring_.size() && out.size() < nodes_.size(); ++n, ++it) {
    if (it == ring_.end()) {
      it = ring_.begin();
    }
    if (std::find(out.begin(), out.end(), it->second) == out.end()) {
      out.push_back(it->second);
    }
  }
  return out;
}

}  // namespace df
