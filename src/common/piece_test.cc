#include "dragonfly/common/piece.h"

#include <gtest/gtest.h>

namespace df {
namespace {

TEST(PieceTest, LengthIsPowerOfTwoClamped) {
  EXPECT_EQ(ComputePieceLength(0), kMinPieceLength);
  EXPECT_EQ(ComputePieceLength(1), kMinPieceLength);
  EXPECT_EQ(ComputePieceLength(kUnknownLength), kMinPieceLength);
  EXPECT_EQ(ComputePieceLength(2000ll << 20), kMinPieceLength);   // 2000 MiB / 500 = 4 MiB
  EXPECT_EQ(ComputePieceLength((2000ll << 20) + 500), 8u << 20);  // just over 4 MiB
  EXPECT_EQ(ComputePieceLength(100ll << 30), kMaxPieceLength);    // 100 GiB
  EXPECT_EQ(ComputePieceLength(10ll << 30), 32u << 20);           // 10 GiB / 500 ≈ 20.5 MiB
}

TEST(PieceTest, CountAndSizes) {
  const uint32_t len = 4u << 20;
  EXPECT_EQ(PieceCount(0, len), 0u);
  EXPECT_EQ(PieceCount(1, len), 1u);
  EXPECT_EQ(PieceCount(len, len), 1u);
  EXPECT_EQ(PieceCount(len + 1ll, len), 2u);
  EXPECT_EQ(PieceSize(len + 1ll, len, 0), len);
  EXPECT_EQ(PieceSize(len + 1ll, len, 1), 1u);
  EXPECT_EQ(PieceSize(len + 1ll, len, 2), 0u);
  EXPECT_EQ(PieceOffset(len, 3), 3ull * len);
}

}  // namespace
}  // namespace df
