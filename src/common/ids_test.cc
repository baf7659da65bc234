#include "dragonfly/common/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <type_traits>
#include <unordered_map>

namespace df {
namespace {

TEST(IdsTest, ParseChecksEachKindOfId) {
  const std::string hex(64, 'a');
  EXPECT_EQ(TaskId::Parse(hex)->str(), hex);
  EXPECT_FALSE(TaskId::Parse("").ok());
  EXPECT_FALSE(TaskId::Parse(std::string(129, 'a')).ok());
  EXPECT_FALSE(TaskId::Parse("ABCDEF").ok());            // uppercase
  EXPECT_FALSE(TaskId::Parse("../../etc/passwd").ok());  // a path from a hostile peer
  EXPECT_EQ(PeerId::Parse("10.0.0.1-node-1234")->str(), "10.0.0.1-node-1234");
  EXPECT_FALSE(PeerId::Parse("with space").ok());
  EXPECT_FALSE(PeerId::Parse(std::string(257, 'p')).ok());
  EXPECT_FALSE(HostId::Parse(std::string("a\nb")).ok());
  EXPECT_EQ(HostId::Parse("10.0.0.1-node")->str(), "10.0.0.1-node");
}

TEST(IdsTest, KindsDoNotMixAndWorkAsKeys) {
  static_assert(!std::is_convertible_v<PeerId, TaskId>);
  static_assert(!std::is_convertible_v<std::string, HostId>);
  std::unordered_map<PeerId, int> by_peer{{PeerId("a"), 1}};
  EXPECT_EQ(by_peer.count(PeerId("a")), 1u);
  std::set<TaskId> ordered{TaskId("b"), TaskId("a")};
  EXPECT_EQ(ordered.begin()->str(), "a");
  EXPECT_EQ(fmt::format("{}", HostId("h")), "h");
}

}  // namespace
}  // namespace df
