#include "piece/token_bucket.h"

#include <gtest/gtest.h>

namespace df::piece {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(TokenBucketTest, BurstThenPaced) {
  TokenBucket b(1000, 100);
  auto t0 = TokenBucket::Clock::now();
  EXPECT_EQ(b.chunk_size(), 100u);
  EXPECT_EQ(b.Reserve(100, t0), nanoseconds(0));  // the initial burst
  // 50 more bytes at 1000 B/s: 50 ms of debt.
  auto d = b.Reserve(50, t0);
  EXPECT_NEAR(std::chrono::duration<double>(d).count(), 0.05, 1e-6);
  // 150 ms later the debt is paid and 100 tokens (the cap) are back.
  EXPECT_EQ(b.Reserve(100, t0 + milliseconds(250)), nanoseconds(0));
  EXPECT_GT(b.Reserve(1, t0 + milliseconds(250)).count(), 0);
}

TEST(TokenBucketTest, ConcurrentReservationsQueueUp) {
  TokenBucket b(1000, 100);
  auto t0 = TokenBucket::Clock::now();
  EXPECT_EQ(b.Reserve(100, t0).count(), 0);
  auto d1 = b.Reserve(100, t0);
  auto d2 = b.Reserve(100, t0);
  EXPECT_NEAR(std::chrono::duration<double>(d1).count(), 0.1, 1e-6);
  EXPECT_NEAR(std::chrono::duration<double>(d2).count(), 0.2, 1e-6);
}

TEST(TokenBucketTest, DefaultBurstClamped) {
  EXPECT_EQ(TokenBucket(1000).chunk_size(), 64u << 10);
  EXPECT_EQ(TokenBucket(8u << 20).chunk_size(), (8u << 20) / 10);
  EXPECT_EQ(TokenBucket(1u << 30).chunk_size(), 1u << 20);
}

}  // namespace
}  // namespace df::piece
