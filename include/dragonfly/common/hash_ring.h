// Consistent hashing with virtual nodes: maps a key (a task ID) to one node (a seed host ID, a
// scheduler address) so that adding or removing a node only moves the keys of that node, and the
// keys of a node that is skipped (down) all go to the node that owns them once it is removed: its
// successor on the ring. Every process that builds a ring of the same nodes maps keys the same
// way. Thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace df {

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
  // Every node once, clockwise from hash(key): the owner first, then the successors that take
  // the key over in turn when the ones before them are skipped or removed.
  std::vector<std::string> Order(std::string_view key) const;

 private:
  int virtual_nodes_;
  std::set<std::string> nodes_;
  std::map<uint64_t, std::string> ring_;
};

}  // namespace df
