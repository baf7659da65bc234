#include "dragonfly/scheduler/hash_ring.h"

#include <gtest/gtest.h>

#include <map>

namespace df::scheduler {
namespace {

TEST(HashRingTest, StableAndSpread) {
  HashRing ring;
  for (int i = 0; i < 4; ++i) {
    ring.Add("seed-" + std::to_string(i));
  }
  HashRing again;
  for (int i = 3; i >= 0; --i) {
    again.Add("seed-" + std::to_string(i));
  }
  std::map<std::string, int> counts;
  for (int t = 0; t < 4000; ++t) {
    std::string key = "task-" + std::to_string(t);
    std::string node = ring.Pick(key);
    EXPECT_EQ(node, again.Pick(key));  // independent of insertion order
    EXPECT_EQ(node, ring.Pick(key));
    ++counts[node];
  }
  ASSERT_EQ(counts.size(), 4u);
  for (const auto& [node, n] : counts) {
    EXPECT_GT(n, 600) << node;
    EXPECT_LT(n, 1400) << node;
  }
}

TEST(HashRingTest, RemovingANodeOnlyMovesItsKeys) {
  HashRing ring;
  for (int i = 0; i < 5; ++i) {
    ring.Add("seed-" + std::to_string(i));
  }
  std::map<std::string, std::string> before;
  for (int t = 0; t < 1000; ++t) {
    before["t" + std::to_string(t)] = ring.Pick("t" + std::to_string(t));
  }
  ring.Remove("seed-2");
  for (const auto& [key, node] : before) {
    std::string now = ring.Pick(key);
    EXPECT_NE(now, "seed-2");
    if (node != "seed-2") {
      EXPECT_EQ(now, node) << key;
    }
  }
}

TEST(HashRingTest, PickSkipsUnusableNodes) {
  HashRing ring;
  EXPECT_EQ(ring.Pick("x"), "");
  ring.Add("a");
  ring.Add("b");
  std::string first = ring.Pick("task");
  std::string other = first == "a" ? "b" : "a";
  EXPECT_EQ(ring.Pick("task", [&](const std::string& n) { return n != first; }), other);
  EXPECT_EQ(ring.Pick("task", [](const std::string&) { return false; }), "");
}

}  // namespace
}  // namespace df::scheduler
