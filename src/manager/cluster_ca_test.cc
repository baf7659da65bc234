#include "manager/cluster_ca.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "manager/store.h"

namespace df::manager {
namespace {

namespace fs = std::filesystem;
using security::Identity;
using security::Role;
using std::chrono::hours;

class ClusterCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("df-ca-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto database = db::Open({db::Dialect::kSqlite, (dir_ / "manager.db").string()});
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    store_ = std::make_unique<Store>(std::move(database).value());
    std::string jwt;
    ASSERT_TRUE(store_->Bootstrap("root-secret-1", &jwt, nullptr).ok());
    config_.cert = (dir_ / "ca.crt").string();
    config_.key = (dir_ / "ca.key").string();
    auto ca = ClusterCa::Open(config_, &store_->db());
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_ = std::move(ca).value();
    auto key = security::MakePrivateKey();
    ASSERT_TRUE(key.ok());
    auto pub = security::PublicKeyOf(*key);
    ASSERT_TRUE(pub.ok());
    public_key_ = *pub;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Token(Role role, const std::string& name = "") {
    auto t = ca_->CreateToken(role, name, hours(1), "test", 1);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? t->first.ToString() : "";
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  ManagerConfig::Ca config_;
  std::unique_ptr<ClusterCa> ca_;
  std::string public_key_;
};

TEST_F(ClusterCaTest, MakesItsCaOnceWithPrivateFilesAndReopensIt) {
  struct stat st{};
  ASSERT_EQ(::stat(config_.key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = ClusterCa::Open(config_, &store_->db());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->ca_cert_pem(), ca_->ca_cert_pem());
  fs::remove(config_.key);
  EXPECT_EQ(ClusterCa::Open(config_, &store_->db()).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(ClusterCaTest, ATokenJoinsItsRoleAndNameOnly) {
  const std::string daemon = Token(Role::kDaemon);
  auto cert = ca_->Join(daemon, {Role::kDaemon, "node-1"}, public_key_, "ipv4:10.0.0.1:1");
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_TRUE(security::CheckIssuedBy(*cert, ca_->ca_cert_pem()).ok());
  auto info = security::InspectCertificate(*cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->identity, (Identity{Role::kDaemon, "node-1"}));
  // A daemon token is no seed-peer or scheduler certificate.
  for (Role r : {Role::kSeedPeer, Role::kScheduler, Role::kManager}) {
    EXPECT_EQ(ca_->Join(daemon, {r, "node-1"}, public_key_, "a").status().code(),
              StatusCode::kPermissionDenied);
  }
  // A token pinned to a name.
  const std::string pinned = Token(Role::kSeedPeer, "seed-1");
  EXPECT_TRUE(ca_->Join(pinned, {Role::kSeedPeer, "seed-1"}, public_key_, "a").ok());
  EXPECT_EQ(ca_->Join(pinned, {Role::kSeedPeer, "seed-2"}, public_key_, "a").status().code(),
            StatusCode::kPermissionDenied);
  // No manager tokens; bad names and TTLs.
  EXPECT_FALSE(ca_->CreateToken(Role::kManager, "", hours(1), "", 1).ok());
  EXPECT_FALSE(ca_->CreateToken(Role::kDaemon, "a/b", hours(1), "", 1).ok());
  EXPECT_FALSE(ca_->CreateToken(Role::kDaemon, "", std::chrono::seconds(1), "", 1).ok());
  auto listed = ca_->ListTokens();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].uses, 1);
  EXPECT_EQ((*listed)[0].ToJson().dump().find(daemon.substr(7)), std::string::npos);
}

TEST_F(ClusterCaTest, WrongUnknownExpiredOrDeletedTokensAreRefusedAndGuessingIsThrottled) {
  const std::string good = Token(Role::kDaemon);
  const Identity id{Role::kDaemon, "node-1"};
  std::string wrong_secret = good.substr(0, 7) + std::string(16, 'a');
  EXPECT_EQ(ca_->Join(wrong_secret, id, public_key_, "r1").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(ca_->Join("nothing", id, public_key_, "r1").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(ca_->Join("zzzzzz.zzzzzzzzzzzzzzzz", id, public_key_, "r1").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(ca_->Join(good, id, "not a key", "r1").status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      store_->db()
          .Exec("UPDATE bootstrap_tokens SET expires_at = 1 WHERE id = ?", {good.substr(0, 6)})
          .ok());
  EXPECT_EQ(ca_->Join(good, id, public_key_, "r1").status().code(), StatusCode::kUnauthenticated);
  const std::string other = Token(Role::kDaemon);
  ASSERT_TRUE(ca_->DeleteToken(other.substr(0, 6)).ok());
  EXPECT_EQ(ca_->Join(other, id, public_key_, "r1").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(ca_->DeleteToken(other.substr(0, 6)).code(), StatusCode::kNotFound);
  // 20 failures from one address: that address waits, others do not.
  const std::string fresh = Token(Role::kDaemon);
  for (int i = 0; i < 20; ++i) {
    (void)ca_->Join(wrong_secret, id, public_key_, "r2");
  }
  EXPECT_EQ(ca_->Join(fresh, id, public_key_, "r2").status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(ca_->Join(fresh, id, public_key_, "r3").ok());
}

}  // namespace
}  // namespace df::manager
