// Consistent hashing with virtual nodes: maps a key (a task ID) to one node (a seed host ID) so
// that adding or removing a node only moves the keys of that node. Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace df::scheduler {

// 64-bit FNV-1a followed by a splitmix64 finaliser; stable across runs and platforms.
uint64_t StableHash(std::string_view s);

class HashRing {
 public:
  explicit HashRing(int virtual_nodes = 128) : virtual_nodes_(virtual_nodes) {}

  void Add(const std::string& node);
  void Remove(const std::string& node);
  bool Contains(const std::string& node) const { return nodes_.count(node) > 0; }
  size_t size() const { return nodes_.size(); }

  // The first node clockwise from hash(key) for which `usable` (if set) is true; "" when none.
  std::string Pick(std::string_view key,
                   const std::function<bool(const std::string&)>& usable = {}) const;

 private:
  int virtual_nodes_;
  std::set<std::string> nodes_;
  std::map<uint64_t, std::string> ring_;
};

}  // namespace df::scheduler
