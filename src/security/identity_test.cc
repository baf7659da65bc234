#include "dragonfly/security/identity.h"

#include <gtest/gtest.h>

namespace df::security {
namespace {

using std::chrono::hours;

TEST(IdentityTest, SpiffeIdsRoundTripAndBadOnesAreRefused) {
  Identity id{Role::kSeedPeer, "node-7.example"};
  EXPECT_EQ(id.SpiffeId(), "spiffe://dragonfly/seed-peer/node-7.example");
  auto back = ParseSpiffeId(id.SpiffeId());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  for (const char* bad :
       {"spiffe://other/daemon/a", "spiffe://dragonfly/root/a", "spiffe://dragonfly/daemon",
        "spiffe://dragonfly/daemon/", "spiffe://dragonfly/daemon/a/b", "https://dragonfly/daemon/a",
        "spiffe://dragonfly/daemon/a b"}) {
    EXPECT_EQ(ParseSpiffeId(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseRole("admin").ok());
}

TEST(IdentityTest, ACertificateCarriesItsIdentityAndExpiry) {
  auto ca = MakeCa("test cluster CA", hours(24));
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto leaf =
      IssueCertificate(*ca, {Role::kScheduler, "sched-1"}, hours(2), {"10.0.0.5", "s.local"});
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  EXPECT_NE(leaf->key_pem.find("PRIVATE KEY"), std::string::npos);
  auto info = InspectCertificate(leaf->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->identity, (Identity{Role::kScheduler, "sched-1"}));
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_NEAR(static_cast<double>(info->not_after_unix_s), static_cast<double>(now + 7200), 120);
  // The CA itself has no identity.
  EXPECT_FALSE(InspectCertificate(ca->cert_pem).ok());
  EXPECT_FALSE(InspectCertificate("not a certificate").ok());
}

TEST(IdentityTest, IssuingChecksItsInputs) {
  auto ca = MakeCa("ca", hours(1));
  auto other = MakeCa("other", hours(1));
  ASSERT_TRUE(ca.ok() && other.ok());
  EXPECT_EQ(IssueCertificate(*ca, {Role::kDaemon, "bad/name"}, hours(1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueCertificate(*ca, {Role::kDaemon, ""}, hours(1)).status().code(),
            StatusCode::kInvalidArgument);
  auto leaf = IssueCertificate(*ca, {Role::kDaemon, "a"}, hours(1));
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(CheckIssuedBy(leaf->cert_pem, ca->cert_pem).ok());
  EXPECT_EQ(CheckIssuedBy(leaf->cert_pem, other->cert_pem).code(), StatusCode::kInvalidArgument);
  KeyPair mixed{other->key_pem, ca->cert_pem};
  EXPECT_EQ(IssueCertificate(mixed, {Role::kDaemon, "a"}, hours(1)).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace df::security
