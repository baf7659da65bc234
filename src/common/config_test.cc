#include "dragonfly/common/config.h"

#include <gtest/gtest.h>

namespace df::config {
namespace {

TEST(ConfigTest, UnknownKeyIsNamed) {
  YAML::Node n = YAML::Load("server:\n  port: 1\n  prot: 2\n");
  EXPECT_TRUE(CheckKeys(n, "", {"server"}).ok());
  Status s = CheckKeys(n["server"], "server", {"port"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("server.prot"), std::string::npos);
}

// YAML lets a key be a mapping or a list ("? [a]: 1"); that is an error, not an exception.
TEST(ConfigTest, ComplexKeysAreAClearError) {
  YAML::Node n = YAML::Load("scheduler:\n? candidateParentLimit: 4\n");
  Status s = CheckKeys(n, "", {"scheduler"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("plain names"), std::string::npos) << s.message();
}

TEST(ConfigTest, BadValuesAreNamed) {
  YAML::Node n = YAML::Load("a: notanumber\nb: maybe\nc: 5x\nd: 10MiB\ne: 1500ms\n");
  int64_t i = 0;
  bool b = false;
  std::chrono::milliseconds d{};
  uint64_t bytes = 0;
  Status s = Read(n, "x", "a", &i);
  EXPECT_NE(s.message().find("x.a"), std::string::npos);
  EXPECT_FALSE(Read(n, "x", "b", &b).ok());
  EXPECT_FALSE(Read(n, "x", "c", &d).ok());
  ASSERT_TRUE(ReadBytes(n, "x", "d", &bytes).ok());
  EXPECT_EQ(bytes, 10u << 20);
  ASSERT_TRUE(Read(n, "x", "e", &d).ok());
  EXPECT_EQ(d.count(), 1500);
  // Absent keys leave the default.
  i = 7;
  ASSERT_TRUE(Read(n, "x", "zzz", &i).ok());
  EXPECT_EQ(i, 7);
}

}  // namespace
}  // namespace df::config
