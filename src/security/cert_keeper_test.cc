#include "dragonfly/security/cert_keeper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "dragonfly/common/file.h"
#include "dragonfly/security/x509.h"

namespace df::security {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::string Slurp(const std::string& path) {
  StatusOr<std::string> text = ReadSmallFile(path);
  return text.ok() ? *text : std::string();
}

class CertificateKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("df-keeper-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto ca = MakeCa("test CA", std::chrono::hours(1));
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    opts_.files.ca_cert = (dir_ / "ca.crt").string();
    opts_.files.cert = (dir_ / "tls.crt").string();
    opts_.files.key = (dir_ / "tls.key").string();
    ASSERT_TRUE(WriteSecretFile(opts_.files.ca_cert, ca_.cert_pem).ok());
    opts_.identity = {Role::kDaemon, "node-1"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An issuer from the test CA, counting its calls; certificates of `ttl`.
  CertificateKeeper::IssueFn Issuer(std::atomic<int>* calls, seconds ttl, Identity as = {}) {
    return [this, calls, ttl, as](const std::string& pub) -> StatusOr<std::string> {
      ++*calls;
      return IssueForKey(ca_, as.name.empty() ? opts_.identity : as, pub, ttl);
    };
  }

  fs::path dir_;
  KeyPair ca_;
  CertificateKeeper::Options opts_;
};

TEST_F(CertificateKeeperTest, JoinsWithoutACertificateAndKeepsAValidOne) {
  std::atomic<int> joins{0};
  std::atomic<int> renewals{0};
  opts_.join = Issuer(&joins, std::chrono::hours(1));
  opts_.renew = Issuer(&renewals, std::chrono::hours(1));
  {
    auto k = CertificateKeeper::Start(opts_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_EQ(joins.load(), 1);
    auto info = InspectCertificate(Slurp(opts_.files.cert));
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->identity, opts_.identity);
    EXPECT_TRUE(CheckKeyMatches(Slurp(opts_.files.key), Slurp(opts_.files.cert)).ok());
    struct stat st{};
    ASSERT_EQ(::stat(opts_.files.key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  // A restart with a valid certificate neither joins nor renews.
  auto again = CertificateKeeper::Start(opts_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(joins.load(), 1);
  EXPECT_EQ(renewals.load(), 0);
}

TEST_F(CertificateKeeperTest, ACertificateOfAnotherIdentityOrCaIsReplaced) {
  auto other_ca = MakeCa("other CA", std::chrono::hours(1));
  ASSERT_TRUE(other_ca.ok());
  auto foreign = IssueCertificate(*other_ca, opts_.identity, std::chrono::hours(1));
  auto renamed = IssueCertificate(ca_, {Role::kDaemon, "node-2"}, std::chrono::hours(1));
  ASSERT_TRUE(foreign.ok() && renamed.ok());
  for (const KeyPair* kp : {&*foreign, &*renamed}) {
    ASSERT_TRUE(WriteSecretFile(opts_.files.cert, kp->cert_pem).ok());
    ASSERT_TRUE(WriteSecretFile(opts_.files.key, kp->key_pem).ok());
    std::atomic<int> joins{0};
    std::atomic<int> renewals{0};
    opts_.join = Issuer(&joins, std::chrono::hours(1));
    opts_.renew = Issuer(&renewals, std::chrono::hours(1));
    auto k = CertificateKeeper::Start(opts_);
    ASSERT_TRUE(k.ok()) << k.status().ToString();
    EXPECT_EQ(joins.load(), 1);
    EXPECT_TRUE(CheckIssuedBy(Slurp(opts_.files.cert), ca_.cert_pem).ok());
  }
}

TEST_F(CertificateKeeperTest, AFailedJoinStopsTheStartAndABadIssuerIsNotTrusted) {
  opts_.join = [](const std::string&) -> StatusOr<std::string> {
    return Unauthenticated("bootstrap token refused: unknown token");
  };
  auto k = CertificateKeeper::Start(opts_);
  EXPECT_EQ(k.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(k.status().message().find("spiffe://dragonfly/daemon/node-1"), std::string::npos);
  // An issuer answering with a certificate for someone else.
  std::atomic<int> calls{0};
  opts_.join = Issuer(&calls, std::chrono::hours(1), {Role::kSeedPeer, "node-1"});
  EXPECT_FALSE(CertificateKeeper::Start(opts_).ok());
  EXPECT_FALSE(fs::exists(opts_.files.cert));
}

TEST_F(CertificateKeeperTest, RenewsBeforeExpiryWithANewKey) {
  std::atomic<int> joins{0};
  std::atomic<int> renewals{0};
  opts_.join = Issuer(&joins, seconds(3));
  opts_.renew = Issuer(&renewals, seconds(3));
  auto k = CertificateKeeper::Start(opts_);
  ASSERT_TRUE(k.ok());
  const int64_t first_expiry = (*k)->not_after_unix_s();
  const std::string first_key = Slurp(opts_.files.key);
  // Due two seconds into the three-second life; waits for the renewal, bounded.
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (renewals.load() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(renewals.load(), 2);
  EXPECT_EQ(joins.load(), 1);
  EXPECT_GT((*k)->not_after_unix_s(), first_expiry);
  // Stopped, so that no further renewal replaces the files while they are read.
  k->reset();
  EXPECT_NE(Slurp(opts_.files.key), first_key);
  auto info = InspectCertificate(Slurp(opts_.files.cert));
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(CheckKeyMatches(Slurp(opts_.files.key), Slurp(opts_.files.cert)).ok());
}

}  // namespace
}  // namespace df::security
