#include "daemon/proxy/range.h"

#include <gtest/gtest.h>

namespace df::daemon::proxy {
namespace {

std::optional<ByteRange> Ok(std::string_view h, uint64_t total) {
  auto r = ParseRange(h, total);
  EXPECT_TRUE(r.ok()) << h;
  return r.ok() ? *r : std::nullopt;
}

TEST(RangeTest, Forms) {
  auto r = Ok("bytes=0-99", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 0u);
  EXPECT_EQ(r->end, 100u);
  r = Ok("bytes=500-", 1000);  // open-ended, as containerd sends when resuming
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 500u);
  EXPECT_EQ(r->end, 1000u);
  r = Ok("bytes=-10", 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->start, 990u);
  r = Ok("bytes=900-5000", 1000);  // clamped
  ASSERT_TRUE(r);
  EXPECT_EQ(r->end, 1000u);
}

TEST(RangeTest, IgnoredAndUnsatisfiable) {
  EXPECT_FALSE(Ok("", 10));
  EXPECT_FALSE(Ok("items=0-1", 10));
  EXPECT_FALSE(Ok("bytes=0-1,5-6", 10));
  EXPECT_FALSE(Ok("bytes=5-2", 10));
  EXPECT_FALSE(Ok("bytes=x-", 10));
  EXPECT_EQ(ParseRange("bytes=10-", 10).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ParseRange("bytes=-0", 10).status().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace df::daemon::proxy
