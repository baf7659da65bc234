#include "piece/picker.h"

#include <gtest/gtest.h>

#include <map>

namespace df::piece {
namespace {

Picker::Neighbour Holding(LinkId id, std::vector<uint32_t> pieces, bool seed = false) {
  Picker::Neighbour nb;
  nb.id = id;
  nb.seed = seed;
  nb.has = [pieces](uint32_t n) {
    return std::find(pieces.begin(), pieces.end(), n) != pieces.end();
  };
  return nb;
}

TEST(PickerTest, RandomAmongTheEquallyRare) {
  std::map<uint32_t, int> picked;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Picker p(seed);
    p.Resize(6);
    for (uint32_t n = 0; n < 6; ++n) {
      p.AddHolder(n, false);
    }
    p.AddHolder(0, false);  // piece 0 is the most common
    auto n = p.Pick(Holding(1, {0, 1, 2, 3, 4, 5}), Clock::now());
    ASSERT_TRUE(n.has_value());
    picked[*n]++;
  }
  EXPECT_EQ(picked.count(0), 0u) << "never the commonest";
  EXPECT_EQ(picked.size(), 5u) << "every equally rare piece gets picked";
}

TEST(PickerTest, SeedIsTheLastResortAndEndgameWaitsForTheThreshold) {
  Picker p(1);
  p.Resize(3);
  p.AddHolder(0, true);
  p.AddHolder(1, true);
  p.AddHolder(1, false);
  auto seed = Holding(1, {0, 1}, true);
  auto now = Clock::now();
  EXPECT_EQ(p.Pick(seed, now), std::optional<uint32_t>(0));
  p.Requested(0, 1, now);
  EXPECT_EQ(p.Pick(seed, now), std::nullopt) << "piece 1 is with a peer";
  auto peer = Holding(2, {1});
  EXPECT_EQ(p.Pick(peer, now), std::optional<uint32_t>(1));
  p.Requested(1, 2, now);
  p.SetHave(2);
  // Everything missing is in flight: the endgame, once a request is overdue.
  auto other = Holding(3, {0, 1});
  p.set_min_endgame(std::chrono::milliseconds(100));
  EXPECT_EQ(p.Pick(other, now + std::chrono::milliseconds(50)), std::nullopt);
  auto late = p.Pick(other, now + std::chrono::milliseconds(150));
  ASSERT_TRUE(late.has_value());
  p.Requested(*late, 3, now + std::chrono::milliseconds(150));
  EXPECT_EQ(p.in_flight(*late), 2u);
  p.Settled(*late, 1);
  p.Settled(*late, 2);
  p.SetHave(*late);
  EXPECT_EQ(p.missing(), 1u);
  // The threshold follows twice the measured latency.
  p.RecordLatency(std::chrono::milliseconds(400));
  EXPECT_EQ(p.endgame_after(), std::chrono::milliseconds(800));
}

}  // namespace
}  // namespace df::piece
