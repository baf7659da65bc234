#include "dragonfly/common/hash_ring.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace df {
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

TEST(HashRingTest, OrderIsTheOwnerThenItsSuccessors) {
  HashRing ring;
  EXPECT_TRUE(ring.Order("x").empty());
  for (int i = 0; i < 4; ++i) {
    ring.Add("10.0.0." + std::to_string(i) + ":8002");
  }
  for (int t = 0; t < 200; ++t) {
    const std::string key = "task-" + std::to_string(t);
    std::vector<std::string> order = ring.Order(key);
    ASSERT_EQ(order.size(), 4u);
    EXPECT_EQ(order[0], ring.Pick(key));
    // Skipping the owner gives the second; removing the owner makes the second the owner: a
    // failover and the manager's later removal of the dead node agree.
    EXPECT_EQ(order[1], ring.Pick(key, [&](const std::string& n) { return n != order[0]; }));
    HashRing without = ring;
    without.Remove(order[0]);
    EXPECT_EQ(without.Pick(key), order[1]);
    EXPECT_EQ(std::set<std::string>(order.begin(), order.end()).size(), 4u);
  }
}

}  // namespace
}  // namespace df
