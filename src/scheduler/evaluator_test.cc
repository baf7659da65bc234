#include "dragonfly/scheduler/evaluator.h"

#include <gtest/gtest.h>

namespace df::scheduler {
namespace {

EvalInput Base() {
  EvalInput in;
  in.upload_slots = 10;
  in.active_uploads = 2;
  in.best_throughput_bps = 100e6;
  in.throughput_bps = 50e6;
  in.progress = 0.5;
  return in;
}

TEST(EvaluatorTest, PrefersHigherMeasuredThroughput) {
  EvalInput fast = Base();
  fast.throughput_bps = 100e6;
  EvalInput slow = Base();
  slow.throughput_bps = 10e6;
  EXPECT_GT(Evaluate(fast), Evaluate(slow));
  // Unmeasured sits between a slow and a fast host.
  EvalInput unknown = Base();
  unknown.throughput_bps = 0;
  EXPECT_GT(Evaluate(unknown), Evaluate(slow));
  EXPECT_LT(Evaluate(unknown), Evaluate(fast));
}

TEST(EvaluatorTest, PrefersSameIdcAndCloserLocation) {
  EvalInput same = Base();
  same.parent_idc = "HZ-1";
  same.child_idc = "hz-1";
  EvalInput other = Base();
  other.parent_idc = "sh-2";
  other.child_idc = "hz-1";
  EXPECT_GT(Evaluate(same), Evaluate(other));

  EvalInput near = Base();
  near.parent_location = "cn|zj|hz";
  near.child_location = "cn|zj|hz";
  EvalInput far = Base();
  far.parent_location = "cn|sh";
  far.child_location = "cn|zj|hz";
  EXPECT_GT(Evaluate(near), Evaluate(far));
}

TEST(EvaluatorTest, FreeSlotsProgressAndSeed) {
  EvalInput idle = Base();
  idle.active_uploads = 0;
  EvalInput busy = Base();
  busy.active_uploads = 9;
  EXPECT_GT(Evaluate(idle), Evaluate(busy));

  EvalInput done = Base();
  done.progress = 1;
  EXPECT_GT(Evaluate(done), Evaluate(Base()));

  EvalInput seed = Base();
  seed.parent_is_seed = true;
  seed.seed_is_sole_source = true;
  EXPECT_GT(Evaluate(seed), Evaluate(Base()));
  seed.seed_is_sole_source = false;
  EXPECT_LT(Evaluate(seed), Evaluate(Base()));
}

TEST(EvaluatorTest, AffinityHelpers) {
  EXPECT_DOUBLE_EQ(LocationAffinity("a|b|c", "a|b|d"), 0.4);
  EXPECT_DOUBLE_EQ(LocationAffinity("a|b|c|d|e|f", "a|b|c|d|e|f"), 1.0);
  EXPECT_DOUBLE_EQ(LocationAffinity("", "a"), 0.0);
  EXPECT_DOUBLE_EQ(LocationAffinity("ab", "a"), 0.0);
  EXPECT_DOUBLE_EQ(IdcAffinity("", ""), 0.0);
  EXPECT_DOUBLE_EQ(IdcAffinity("X", "x"), 1.0);
  EvalInput best;
  best.upload_slots = 1;
  best.throughput_bps = best.best_throughput_bps = 1;
  best.progress = 1;
  best.parent_is_seed = best.seed_is_sole_source = true;
  best.parent_idc = best.child_idc = "a";
  best.parent_location = best.child_location = "a|b|c|d|e";
  EXPECT_NEAR(Evaluate(best), 1.0, 1e-9);
}

}  // namespace
}  // namespace df::scheduler
