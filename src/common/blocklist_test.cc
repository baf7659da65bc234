#include "dragonfly/common/blocklist.h"

#include <gtest/gtest.h>

namespace df {
namespace {

TEST(BlocklistTest, BlocksByApplicationTagAndUrlRegexPerKindOfPeer) {
  BlockRules client{{"ci"}, {R"(^https://registry\.example/v2/secret/)"}, {"nightly"}};
  BlockRules seed{{}, {"\\.iso$"}, {}};
  auto b = TaskBlocklist::Compile(client, seed);
  ASSERT_TRUE(b.ok()) << b.status().ToString();

  EXPECT_EQ(b->Blocks(false, "https://o/x", "ci", ""), "application \"ci\"");
  EXPECT_EQ(b->Blocks(false, "https://o/x", "", "nightly"), "tag \"nightly\"");
  EXPECT_EQ(b->Blocks(false, "https://registry.example/v2/secret/blobs/sha256:1", "", ""),
            "url matches \"^https://registry\\.example/v2/secret/\"");
  EXPECT_EQ(b->Blocks(false, "https://registry.example/v2/public/blobs/sha256:1", "app", "t"),
            std::nullopt);
  // A URL rule matches anywhere in the URL (Dragonfly's regexp.MatchString).
  EXPECT_TRUE(b->Blocks(true, "https://o/images/debian.iso", "", "").has_value());
  // The seed rules and the client rules are separate.
  EXPECT_EQ(b->Blocks(true, "https://o/x", "ci", "nightly"), std::nullopt);
  EXPECT_EQ(b->Blocks(false, "https://o/images/debian.iso", "", ""), std::nullopt);
  EXPECT_TRUE(TaskBlocklist().Blocks(false, "https://o/x", "ci", "nightly") == std::nullopt);
}

TEST(BlocklistTest, RefusesBadRulesNamingTheList) {
  Status s = ValidateBlockRules(BlockRules{{}, {"(unclosed"}, {}}, "blocklist.client");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("blocklist.client.urls: bad regex \"(unclosed\""), std::string::npos)
      << s.message();
  EXPECT_EQ(ValidateBlockRules(BlockRules{{""}, {}, {}}, "b").code(), StatusCode::kInvalidArgument);
  BlockRules many;
  many.tags.assign(kMaxBlockRules + 1, "t");
  EXPECT_EQ(ValidateBlockRules(many, "b").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(TaskBlocklist::Compile({}, BlockRules{{}, {"a{100000}"}, {}}).ok());
}

TEST(BlocklistTest, AHostileRegexMatchesInLinearTime) {
  // (a+)+$ backtracks exponentially in a backtracking engine; RE2 answers at once.
  auto b = TaskBlocklist::Compile(BlockRules{{}, {"(a+)+$"}, {}}, {});
  ASSERT_TRUE(b.ok());
  std::string url = "https://o/" + std::string(100000, 'a') + "!";
  EXPECT_EQ(b->Blocks(false, url, "", ""), std::nullopt);
}

}  // namespace
}  // namespace df
