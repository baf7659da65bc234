#include "manager/signin_limiter.h"

#include <gtest/gtest.h>

namespace df::manager {
namespace {

TEST(SignInLimiterTest, ThrottlesPerUserAndPerAddressUntilTheWindowEnds) {
  SignInLimiter limiter({/*per_user=*/3, /*per_address=*/5, std::chrono::seconds(60), 100});
  int64_t t = 1'000'000;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.RetryAfter("root", "10.0.0.1", t), 0);
    limiter.Failed("root", "10.0.0.1", t);
  }
  EXPECT_EQ(limiter.RetryAfter("root", "10.0.0.2", t + 1000), 59);  // any address
  EXPECT_EQ(limiter.RetryAfter("ROOT", "10.0.0.2", t + 1000), 59);  // names are case-blind
  EXPECT_EQ(limiter.RetryAfter("alice", "10.0.0.2", t), 0);
  // Two more failures from 10.0.0.1 on other names lock the address out.
  limiter.Failed("alice", "10.0.0.1", t);
  limiter.Failed("bob", "10.0.0.1", t);
  EXPECT_GT(limiter.RetryAfter("carol", "10.0.0.1", t), 0);
  EXPECT_EQ(limiter.RetryAfter("carol", "10.0.0.3", t), 0);
  // The window ends.
  EXPECT_EQ(limiter.RetryAfter("root", "10.0.0.9", t + 60'000), 0);
}

TEST(SignInLimiterTest, SuccessClearsTheUserAndStateIsBounded) {
  SignInLimiter limiter({2, 1000, std::chrono::seconds(60), 10});
  limiter.Failed("root", "", 0);
  limiter.Succeeded("root");
  limiter.Failed("root", "", 0);
  EXPECT_EQ(limiter.RetryAfter("root", "", 0), 0);
  for (int i = 0; i < 100; ++i) {  // a flood of names cannot grow the state past the bound
    limiter.Failed("user" + std::to_string(i), "", 0);
  }
  limiter.Failed("x", "", 0);
  limiter.Failed("x", "", 0);
  EXPECT_GT(limiter.RetryAfter("x", "", 0), 0);
}

}  // namespace
}  // namespace df::manager
