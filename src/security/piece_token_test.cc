#include "dragonfly/security/piece_token.h"

#include <gtest/gtest.h>

#include <limits>

namespace df::security {
namespace {

constexpr int64_t kNow = 1'800'000'000;

class PieceTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = TokenSigner::Generate();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    signer_ = std::make_unique<TokenSigner>(std::move(s).value());
    ASSERT_TRUE(verifier_.Trust(signer_->public_key()).ok());
  }

  std::string Token(const std::string& task, const std::string& peer, int64_t expires) {
    auto t = signer_->Sign({task, peer, expires});
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : std::string();
  }

  std::unique_ptr<TokenSigner> signer_;
  TokenVerifier verifier_;
};

TEST_F(PieceTokenTest, AValidTokenPasses) {
  std::string t = Token("task-a", "peer-1", kNow + 60);
  EXPECT_TRUE(verifier_.Verify(t, "task-a", "peer-1", kNow).ok());
  auto g = PeekToken(t);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->task_id, "task-a");
  EXPECT_EQ(g->peer_id, "peer-1");
  EXPECT_EQ(g->expires_unix_s, kNow + 60);
}

TEST_F(PieceTokenTest, AnotherTaskOrPeerIsRefused) {
  std::string t = Token("task-a", "peer-1", kNow + 60);
  Status other_task = verifier_.Verify(t, "task-b", "peer-1", kNow);
  EXPECT_EQ(other_task.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(other_task.message().find("another task"), std::string::npos);
  EXPECT_EQ(verifier_.Verify(t, "task-a", "peer-2", kNow).code(), StatusCode::kPermissionDenied);
}

// The scheduler's grants: one signature per task and half life, good for any peer of the task
// and for no other task.
TEST_F(PieceTokenTest, GrantsAreSignedOncePerTaskAndHalfLife) {
  GrantCache grants(signer_.get(), std::chrono::seconds(600), /*max_tasks=*/2);
  auto a = grants.Grant("task-a", kNow);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(verifier_.Verify(*a, "task-a", "any-peer", kNow).ok());
  EXPECT_TRUE(verifier_.Verify(*a, "task-a", "another-peer", kNow + 599).ok());
  EXPECT_FALSE(verifier_.Verify(*a, "task-b", "any-peer", kNow).ok());
  EXPECT_FALSE(verifier_.Verify(*a, "task-a", "any-peer", kNow + 601).ok());
  EXPECT_EQ(*grants.Grant("task-a", kNow + 299), *a);  // more than half its life left
  EXPECT_EQ(grants.signatures(), 1u);
  auto later = grants.Grant("task-a", kNow + 300);  // half gone: a fresh one
  ASSERT_TRUE(later.ok());
  EXPECT_NE(*later, *a);
  EXPECT_EQ(PeekToken(*later)->expires_unix_s, kNow + 900);
  ASSERT_TRUE(grants.Grant("task-b", kNow).ok());
  ASSERT_TRUE(grants.Grant("task-c", kNow).ok());  // beyond max_tasks: the cache starts over
  EXPECT_EQ(grants.signatures(), 4u);
  ASSERT_TRUE(grants.Grant("task-a", kNow + 301).ok());
  EXPECT_EQ(grants.signatures(), 5u);
}

TEST_F(PieceTokenTest, AnExpiredTokenIsRefused) {
  std::string t = Token("task-a", "peer-1", kNow);
  EXPECT_TRUE(verifier_.Verify(t, "task-a", "peer-1", kNow).ok());
  Status s = verifier_.Verify(t, "task-a", "peer-1", kNow + 1);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("expired"), std::string::npos);
  // Any i64 a sender writes is handled (fuzz_frame found an overflow in the message).
  std::string ancient = Token("task-a", "peer-1", std::numeric_limits<int64_t>::min());
  EXPECT_EQ(verifier_.Verify(ancient, "task-a", "peer-1", kNow).code(),
            StatusCode::kPermissionDenied);
}

TEST_F(PieceTokenTest, AForgedOrAlteredTokenIsRefused) {
  // Signed by a key the verifier does not trust.
  auto rogue = TokenSigner::Generate();
  ASSERT_TRUE(rogue.ok());
  auto forged = rogue->Sign({"task-a", "peer-1", kNow + 60});
  ASSERT_TRUE(forged.ok());
  Status s = verifier_.Verify(*forged, "task-a", "peer-1", kNow);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find(kUnknownKey), std::string::npos);

  // A trusted token with a later expiry written in: the signature no longer matches.
  std::string t = Token("task-a", "peer-1", kNow + 60);
  std::string altered = t;
  altered[1 + 8 + 3] = static_cast<char>(altered[1 + 8 + 3] + 1);
  s = verifier_.Verify(altered, "task-a", "peer-1", kNow);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("bad signature"), std::string::npos);
  // The rogue's key ID over the trusted key's signature.
  std::string swapped = t;
  swapped.replace(1, 8, forged->substr(1, 8));
  EXPECT_FALSE(verifier_.Verify(swapped, "task-a", "peer-1", kNow).ok());
}

TEST_F(PieceTokenTest, MalformedTokensAreRefusedNotCrashed) {
  std::string t = Token("task-a", "peer-1", kNow + 60);
  EXPECT_EQ(verifier_.Verify("", "task-a", "peer-1", kNow).code(), StatusCode::kPermissionDenied);
  for (size_t n = 0; n < t.size(); ++n) {
    EXPECT_FALSE(verifier_.Verify(t.substr(0, n), "task-a", "peer-1", kNow).ok()) << n;
  }
  EXPECT_FALSE(verifier_.Verify(t + "x", "task-a", "peer-1", kNow).ok());
  EXPECT_FALSE(
      verifier_.Verify(std::string(kMaxPieceTokenBytes + 1, '\1'), "task-a", "peer-1", kNow).ok());
  EXPECT_FALSE(signer_->Sign({std::string(256, 't'), "p", kNow}).ok());
}

TEST_F(PieceTokenTest, TheVerifierKeepsTheNewestKeys) {
  TokenVerifier v(2);
  std::vector<TokenSigner> signers;
  for (int i = 0; i < 3; ++i) {
    auto s = TokenSigner::Generate();
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(v.Trust(s->public_key()).ok());
    ASSERT_TRUE(v.Trust(s->public_key()).ok());  // again: no second entry
    signers.push_back(std::move(s).value());
  }
  EXPECT_EQ(v.keys(), 2u);
  auto sign = [&](int i) { return signers[i].Sign({"t", "p", kNow + 1}).value(); };
  EXPECT_FALSE(v.Verify(sign(0), "t", "p", kNow).ok());  // forgotten
  EXPECT_TRUE(v.Verify(sign(1), "t", "p", kNow).ok());
  EXPECT_TRUE(v.Verify(sign(2), "t", "p", kNow).ok());
  EXPECT_EQ(v.Trust("short").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace df::security
