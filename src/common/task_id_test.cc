#include "dragonfly/common/task_id.h"

#include <gtest/gtest.h>

namespace df {
namespace {

// Expected values are hex(SHA256(...)) of the concatenation computed independently
// (python3 hashlib) from the rule in Dragonfly's id_generator.
TEST(TaskIdTest, PlainUrl) {
  auto id = MakeTaskId({.url = "https://example.com/a/b.bin"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "6298e02aa713cc55fe7cd31c9d050691e5c0ee4866e012e0a897613b2d42ca82");
}

TEST(TaskIdTest, SignatureParamsAreFiltered) {
  auto a = MakeTaskId({.url = "https://example.com/a/b.bin?X-Amz-Signature=abc&X-Amz-Date=1"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "6298e02aa713cc55fe7cd31c9d050691e5c0ee4866e012e0a897613b2d42ca82");
}

TEST(TaskIdTest, TagApplicationAndPieceLength) {
  auto id = MakeTaskId({.url = "https://example.com/a/b.bin?x=1&ns=docker.io",
                        .tag = "mytag",
                        .application = "myapp",
                        .piece_length = 8388608});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "a4cf66e8855d76498cd482abe7b0bad2d7768ffca16c31bf743b639f311b2af4");
}

TEST(TaskIdTest, ContainerdNamespaceIsFiltered) {
  auto id = MakeTaskId(
      {.url = "http://registry.local:5000/v2/library/alpine/blobs/sha256:abc?ns=docker.io"});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "e58e44f29ff8024062e8985dc4a53cbcdffa0256d7148d896d2fb9a73bb87468");
}

TEST(TaskIdTest, RootTrailingSlashTrimmed) {
  auto a = MakeTaskId({.url = "https://example.com/"});
  auto b = MakeTaskId({.url = "https://example.com"});
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, "457b4328cde278e422c9e243f7bfd1e97f511fec43a80f535cf6b0ef6b086776");
}

TEST(TaskIdTest, CustomFilterKeepsOrderOfOthers) {
  auto f = FilterUrl("http://h/p?b=2&sig=x&a=1", {"sig"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, "http://h/p?b=2&a=1");
}

TEST(TaskIdTest, MalformedUrlsRejected) {
  EXPECT_FALSE(MakeTaskId({.url = "not a url"}).ok());
  EXPECT_FALSE(MakeTaskId({.url = "http://"}).ok());
  EXPECT_FALSE(MakeTaskId({.url = "://host/x"}).ok());
  EXPECT_FALSE(MakeTaskId({.url = "http:///path"}).ok());
}

TEST(TaskIdTest, PeerIdsAreUnique) {
  EXPECT_EQ(MakeHostId("10.0.0.1", "node", true), "10.0.0.1-node-seed");
  auto a = MakePeerId("10.0.0.1", "node", false);
  auto b = MakePeerId("10.0.0.1", "node", false);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("10.0.0.1-node-", 0), 0u);
}

// dfcache's content-addressed IDs (expected values: Python's hashlib over the same bytes).
TEST(TaskIdTest, PersistentCacheTaskIdHashesTheContentThenTagApplicationAndPieceLength) {
  PersistentCacheTaskId a;
  a.Update("hello ", 6);
  a.Update("world", 5);  // streamed: the same as in one piece
  EXPECT_EQ(a.Finish("v1", "train", std::nullopt),
            "edc87cfcaba4f3fd81c17e2612585eefd3c5ea42914906612b5a3cf7f1105d33");
  PersistentCacheTaskId b;
  b.Update("hello world", 11);
  EXPECT_EQ(b.Finish("", "", 4u << 20),
            "5dec3df28fe3e22ef86a399bd527db157661660d4da0f242909ab7c47e20ca5e");
}

}  // namespace
}  // namespace df
