// Mutual TLS between real gRPC servers and clients on loopback: who may connect, what the
// server learns about the caller, and a certificate renewed on disk being picked up.
#include "dragonfly/rpc/tls.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <thread>

#include "api/scheduler.grpc.pb.h"

namespace df::rpc {
namespace {

namespace sched = ::dragonfly::api::scheduler;
using security::Identity;
using security::Role;
using std::chrono::hours;

// Answers AnnounceHost with the caller's identity (in piece_token_key) or the refusal.
class EchoIdentity final : public sched::Scheduler::Service {
 public:
  explicit EchoIdentity(bool secure) : secure_(secure) {}
  grpc::Status AnnounceHost(grpc::ServerContext* ctx, const sched::AnnounceHostRequest*,
                            sched::AnnounceHostResponse* resp) override {
    auto id = RequireRole(*ctx, secure_, {Role::kDaemon, Role::kSeedPeer});
    if (!id.ok()) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, id.status().message());
    }
    resp->set_piece_token_key(id->SpiffeId());
    return grpc::Status::OK;
  }

 private:
  bool secure_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("df-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    ca_ = security::MakeCa("cluster", hours(24)).value();
    Write("ca.crt", ca_.cert_pem);
  }
  void TearDown() override {
    if (server_) {
      server_->Shutdown();
    }
    std::filesystem::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& data) {
    ASSERT_TRUE(security::WriteSecretFile((dir_ / name).string(), data).ok());
  }
  // Issues `id` from `ca` into <name>.crt / <name>.key; the settings naming them.
  TlsSettings Issue(const std::string& name, const Identity& id,
                    const security::KeyPair* ca = nullptr) {
    auto kp = security::IssueCertificate(ca ? *ca : ca_, id, hours(1));
    EXPECT_TRUE(kp.ok());
    Write(name + ".crt", kp->cert_pem);
    Write(name + ".key", kp->key_pem);
    TlsSettings s;
    s.ca_cert = (dir_ / "ca.crt").string();
    s.cert = (dir_ / (name + ".crt")).string();
    s.key = (dir_ / (name + ".key")).string();
    s.reload_interval = std::chrono::seconds(1);
    return s;
  }
  void Serve(std::shared_ptr<const Credentials> creds) {
    service_ = std::make_unique<EchoIdentity>(creds->secure());
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", creds->Server(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_ && port_ > 0);
  }
  // The identity the server saw, or the call's error.
  StatusOr<std::string> Call(const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    auto stub =
        sched::Scheduler::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    sched::AnnounceHostResponse resp;
    grpc::Status s = stub->AnnounceHost(&ctx, {}, &resp);
    if (!s.ok()) {
      return Status(StatusCode::kUnavailable,
                    std::to_string(s.error_code()) + " " + s.error_message());
    }
    return resp.piece_token_key();
  }
  std::string Seen(const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    auto r = Call(creds);
    return r.ok() ? *r : r.status().ToString();
  }
  std::shared_ptr<const Credentials> Creds(const TlsSettings& s) {
    auto c = Credentials::Make(s, "test");
    EXPECT_TRUE(c.ok());
    return *c;
  }

  std::filesystem::path dir_;
  security::KeyPair ca_;
  std::unique_ptr<EchoIdentity> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(TlsTest, OnlyAClientWithACertificateFromTheCaGetsIn) {
  Serve(Creds(Issue("sched", {Role::kScheduler, "sched-1"})));
  auto daemon = Creds(Issue("daemon", {Role::kDaemon, "host-a"}));
  auto seen = Call(daemon->Channel({Role::kScheduler}));
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(*seen, "spiffe://dragonfly/daemon/host-a");

  // Plaintext; TLS without a certificate; a certificate from another CA.
  EXPECT_FALSE(Call(grpc::InsecureChannelCredentials()).ok());
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = ca_.cert_pem;
  EXPECT_FALSE(Call(grpc::SslCredentials(no_cert)).ok());
  auto other_ca = security::MakeCa("attacker", hours(1)).value();
  TlsSettings forged = Issue("forged", {Role::kDaemon, "host-a"}, &other_ca);
  EXPECT_FALSE(Call(Creds(forged)->Channel({Role::kScheduler})).ok());
}

TEST_F(TlsTest, TheWrongRoleIsRefusedOnBothSides) {
  Serve(Creds(Issue("sched", {Role::kScheduler, "sched-1"})));
  // A client that wants a manager does not talk to a scheduler.
  auto daemon = Creds(Issue("daemon", {Role::kDaemon, "host-a"}));
  EXPECT_FALSE(Call(daemon->Channel({Role::kManager})).ok());
  // The server refuses a caller whose role may not call it.
  auto manager = Creds(Issue("manager", {Role::kManager, "m"}));
  auto seen = Call(manager->Channel({Role::kScheduler}));
  ASSERT_FALSE(seen.ok());
  EXPECT_NE(seen.status().message().find("may not call this"), std::string::npos)
      << seen.status().ToString();
}

TEST_F(TlsTest, ARenewedCertificateIsUsedWithoutARestart) {
  Serve(Creds(Issue("sched", {Role::kScheduler, "sched-1"})));
  auto daemon = Creds(Issue("daemon", {Role::kDaemon, "host-a"}));
  auto channel_creds = daemon->Channel({Role::kScheduler});
  ASSERT_EQ(Seen(channel_creds), "spiffe://dragonfly/daemon/host-a");
  // Renewal rewrites the files (here with another name, to tell them apart); new connections
  // present the new certificate once the provider re-read them.
  Issue("daemon", {Role::kDaemon, "host-a-renewed"});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string seen;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = Seen(channel_creds);  // the same credentials: their provider re-reads the files
    if (seen == "spiffe://dragonfly/daemon/host-a-renewed") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling the reload
  }
  EXPECT_EQ(seen, "spiffe://dragonfly/daemon/host-a-renewed");
}

TEST_F(TlsTest, PlaintextServersKnowNobody) {
  Serve(Credentials::Insecure());
  auto seen = Call(grpc::InsecureChannelCredentials());
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, "spiffe://dragonfly/daemon/");  // RequireRole's empty identity
}

TEST_F(TlsTest, SettingsAreCheckedWhenRead) {
  TlsSettings good = Issue("daemon", {Role::kDaemon, "host-a"});
  auto read = [&](const std::string& yaml) {
    TlsSettings s;
    return ReadTlsSettings(YAML::Load(yaml), &s);
  };
  EXPECT_TRUE(read("{}").ok());
  EXPECT_TRUE(
      read("{caCert: " + good.ca_cert + ", cert: " + good.cert + ", key: " + good.key + "}").ok());
  EXPECT_FALSE(read("{cert: " + good.cert + "}").ok()) << "all three or none";
  EXPECT_FALSE(read("{caCert: " + good.ca_cert + ", cert: " + good.cert + ", key: " + good.key +
                    ", insecure: true}")
                   .ok());
  EXPECT_FALSE(read("{caCert: /nonexistent, cert: " + good.cert + ", key: " + good.key + "}").ok());
  EXPECT_FALSE(
      read("{caCert: " + good.ca_cert + ", cert: " + good.ca_cert + ", key: " + good.key + "}")
          .ok())
      << "a certificate without an identity";
  auto other_ca = security::MakeCa("other", hours(1)).value();
  TlsSettings foreign = Issue("foreign", {Role::kDaemon, "x"}, &other_ca);
  EXPECT_FALSE(
      read("{caCert: " + good.ca_cert + ", cert: " + foreign.cert + ", key: " + foreign.key + "}")
          .ok())
      << "a certificate from another CA";
  EXPECT_FALSE(read("{bogus: 1}").ok());
}

}  // namespace
}  // namespace df::rpc
