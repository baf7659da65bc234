#include "daemon/piece_picker.h"

#include <gtest/gtest.h>

#include <set>

namespace df::daemon {
namespace {

// Bitmap from a string of '1'/'0', piece 0 first.
std::vector<uint8_t> Bits(const std::string& s) {
  std::vector<uint8_t> b((s.size() + 7) / 8, 0);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '1') {
      b[i / 8] = static_cast<uint8_t>(b[i / 8] | (1u << (i % 8)));
    }
  }
  return b;
}

TEST(PiecePickerTest, RarestFirst) {
  PiecePicker picker(1);
  picker.UpdateParent(0, Bits("1111"));
  picker.UpdateParent(1, Bits("1110"));
  picker.UpdateParent(2, Bits("1100"));
  auto none = [](uint32_t) { return false; };
  // Piece 3 only on parent 0: it is the rarest there.
  EXPECT_EQ(picker.Pick(0, none), 3u);
  // Parent 1: piece 2 (availability 2) beats 0 and 1 (availability 3).
  EXPECT_EQ(picker.Pick(1, none), 2u);
}

TEST(PiecePickerTest, SkipsOwnedAndInFlightThenEndgame) {
  PiecePicker picker(2, std::chrono::seconds(2));
  picker.UpdateParent(0, Bits("111"));
  picker.UpdateParent(1, Bits("111"));
  auto have = [](uint32_t n) { return n == 1; };
  auto t0 = std::chrono::steady_clock::now();
  std::set<uint32_t> got;
  got.insert(*picker.Pick(0, have, t0));
  got.insert(*picker.Pick(0, have, t0));
  EXPECT_EQ(got, (std::set<uint32_t>{0, 2}));
  // Parent 0 has nothing new; parent 1 may duplicate a request only once it is overdue.
  EXPECT_FALSE(picker.Pick(0, have, t0).has_value());
  EXPECT_FALSE(picker.Pick(1, have, t0 + std::chrono::seconds(1)).has_value());
  auto dup = picker.Pick(1, have, t0 + std::chrono::seconds(3));
  ASSERT_TRUE(dup.has_value());
  EXPECT_TRUE(*dup == 0 || *dup == 2);
}

TEST(PiecePickerTest, RemovedParentReleasesItsPieces) {
  PiecePicker picker(3);
  picker.UpdateParent(0, Bits("1"));
  picker.UpdateParent(1, Bits("1"));
  auto none = [](uint32_t) { return false; };
  ASSERT_EQ(picker.Pick(0, none), 0u);
  EXPECT_EQ(picker.in_flight(0), 1);
  picker.RemoveParent(0);
  EXPECT_EQ(picker.in_flight(0), 0);
  EXPECT_EQ(picker.Pick(1, none), 0u);
}

TEST(PiecePickerTest, TieBreakIsNearlySequentialButSpreadsChildren) {
  // Children of one seed start near the front (a streaming client gets bytes early) but not
  // all with the same piece.
  std::vector<uint8_t> all = Bits(std::string(64, '1'));
  std::set<uint32_t> firsts;
  for (uint64_t s = 0; s < 20; ++s) {
    PiecePicker p(s);
    p.UpdateParent(0, all);
    uint32_t n = *p.Pick(0, [](uint32_t) { return false; });
    EXPECT_LT(n, PiecePicker::kWindow);
    firsts.insert(n);
  }
  EXPECT_GT(firsts.size(), 1u);
}

}  // namespace
}  // namespace df::daemon
