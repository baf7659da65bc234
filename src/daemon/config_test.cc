#include "dragonfly/daemon/config.h"

#include <gtest/gtest.h>

namespace df::daemon {
namespace {

TEST(DaemonConfigTest, ParsesKnownKeys) {
  auto c = ParseDaemonConfig(R"(
host:
  ip: 10.0.0.5
  idc: idc-a
scheduler:
  addrs: [127.0.0.1:8002]
  announceInterval: 5s
seedPeer:
  enable: true
upload:
  listen: 0.0.0.0:4005
  rateLimit: 100MiB
download:
  concurrentPieceCount: 8
gc:
  taskTTL: 24h
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host.ip, "10.0.0.5");
  EXPECT_EQ(c->scheduler.addrs.size(), 1u);
  EXPECT_EQ(c->scheduler.announce_interval.count(), 5000);
  EXPECT_TRUE(c->seed_peer.enable);
  EXPECT_EQ(c->upload.rate_limit, 100u << 20);
  EXPECT_EQ(c->download.concurrent_piece_count, 8u);
  EXPECT_EQ(c->gc.task_ttl.count(), 24 * 3600 * 1000);
  EXPECT_FALSE(c->host.hostname.empty());
}

// deploy/config/dfdaemon.yaml (`dfdaemon config defaults`, the packaged
// /etc/dragonfly/dfdaemon.yaml) says what the code does: parsed, it is the built-in defaults.
TEST(DaemonConfigTest, ThePrintedDefaultsAreTheDefaults) {
  auto printed = ParseDaemonConfig(std::string(DefaultConfigYaml()));
  ASSERT_TRUE(printed.ok()) << printed.status().ToString();
  auto built_in = ParseDaemonConfig("");
  ASSERT_TRUE(built_in.ok());
  EXPECT_TRUE(*printed == *built_in);
  EXPECT_NE(DefaultConfigYaml().find("# "), std::string_view::npos);
}

TEST(DaemonConfigTest, HostAddresses) {
  // Default: the address upload.listen binds.
  auto d = ParseDaemonConfig("");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host.ip, "127.0.0.1");
  EXPECT_EQ(d->host.ips, std::vector<std::string>{"127.0.0.1"});
  auto v6 = ParseDaemonConfig("upload: {listen: \"[::1]:0\", rpcListen: \"[::1]:0\"}\n");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host.ip, "::1");
  EXPECT_EQ(v6->host.ips, std::vector<std::string>{"::1"});
  // Both families, canonical, ip first, no duplicates.
  auto both =
      ParseDaemonConfig("host: {ip: 10.0.0.5, ips: [\"FD00:0::5\", 10.0.0.5, \"[fd00::6]\"]}\n");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->host.ip, "10.0.0.5");
  EXPECT_EQ(both->host.ips, (std::vector<std::string>{"10.0.0.5", "fd00::5", "fd00::6"}));
  auto only_ips = ParseDaemonConfig("host: {ips: [\"fd00::5\"]}\n");
  ASSERT_TRUE(only_ips.ok());
  EXPECT_EQ(only_ips->host.ip, "fd00::5");
  // Bad input names the key.
  auto name = ParseDaemonConfig("host: {ip: node-1}\n");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.status().message().find("host.ip"), std::string::npos);
  auto bad_list = ParseDaemonConfig("host: {ips: fd00::5}\n");
  ASSERT_FALSE(bad_list.ok());
  EXPECT_NE(bad_list.status().message().find("host.ips"), std::string::npos);
  auto bare = ParseDaemonConfig("upload: {listen: \"::1:4005\"}\n");
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("upload.listen"), std::string::npos);
  EXPECT_NE(bare.status().message().find("[::1]:4005"), std::string::npos);
}

TEST(DaemonConfigTest, HijackHttps) {
  auto c = ParseDaemonConfig(R"(
proxy:
  hijackHTTPS:
    hosts:
      - regx: registry\.example\.com:443
      - "cdn\\..*:443"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->proxy.hijack_https.hosts.size(), 2u);
  EXPECT_EQ(c->proxy.hijack_https.hosts[0], "registry\\.example\\.com:443");
  EXPECT_TRUE(ParseDaemonConfig("proxy: {}\n")->proxy.hijack_https.hosts.empty());
  auto half = ParseDaemonConfig("proxy:\n  hijackHTTPS:\n    cert: /ca.crt\n");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("go together"), std::string::npos);
  auto bad = ParseDaemonConfig("proxy:\n  hijackHTTPS:\n    hosts: [\"(\"]\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("hosts[0]"), std::string::npos);
  auto typo = ParseDaemonConfig("proxy:\n  hijackHTTPS:\n    hosts: [{regex: x}]\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("hosts[0].regex"), std::string::npos);
}

TEST(DaemonConfigTest, UnknownKeyNamed) {
  auto c = ParseDaemonConfig("upload:\n  listn: 1.2.3.4:5\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("upload.listn"), std::string::npos);
}

TEST(DaemonConfigTest, BadValuesNamed) {
  auto a = ParseDaemonConfig("download:\n  concurrentPieceCount: 0\n");
  EXPECT_FALSE(a.ok());
  auto b = ParseDaemonConfig("scheduler:\n  addrs: [nohostport]\n");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("scheduler.addrs"), std::string::npos);
  auto d = ParseDaemonConfig("gc:\n  taskTTL: forever\n");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("gc.taskTTL"), std::string::npos);
}

TEST(DaemonConfigTest, S3Section) {
  auto none = ParseDaemonConfig("backSource: {maxRetries: 2}\n");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->back_source.s3.endpoint.empty());
  auto c = ParseDaemonConfig(R"(
backSource:
  s3: {endpoint: "http://127.0.0.1:9000", region: eu-west-1, forcePathStyle: true,
       accessKeyID: AKID, secretAccessKey: SECRET}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->back_source.s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c->back_source.s3.region, "eu-west-1");
  EXPECT_TRUE(c->back_source.s3.force_path_style);
  EXPECT_EQ(c->back_source.s3.secret_access_key, "SECRET");
  auto half = ParseDaemonConfig("backSource:\n  s3: {accessKeyID: AKID}\n");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("backSource.s3"), std::string::npos);
  auto typo = ParseDaemonConfig("backSource:\n  s3: {secretKey: x}\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("backSource.s3.secretKey"), std::string::npos);
}

TEST(DaemonConfigTest, ManagerSection) {
  auto d = ParseDaemonConfig("");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->manager.addrs.empty());  // no manager by default
  EXPECT_EQ(d->manager.refresh_interval.count(), 30000);
  EXPECT_EQ(d->manager.keep_alive_interval.count(), 2000);

  auto c = ParseDaemonConfig(R"(
manager:
  addrs: [10.0.0.1:65003, "[::1]:65003"]
  refreshInterval: 1m
  keepAliveInterval: 500ms
scheduler:
  addrs: [10.0.0.2:8002]
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->manager.addrs, (std::vector<std::string>{"10.0.0.1:65003", "[::1]:65003"}));
  EXPECT_EQ(c->manager.refresh_interval.count(), 60000);
  EXPECT_EQ(c->manager.keep_alive_interval.count(), 500);
  EXPECT_EQ(c->scheduler.addrs, std::vector<std::string>{"10.0.0.2:8002"});

  struct Bad {
    const char* yaml;
    const char* named;
  };
  for (const Bad& b : std::vector<Bad>{
           {"manager: {addr: [x:1]}", "manager.addr"},
           {"manager: {refresh: 1s}", "manager.refresh"},
           {"manager: {addrs: x:1}", "manager.addrs"},
           {"manager: {addrs: [nohostport]}", "manager.addrs"},
           {"manager: {addrs: [[a]]}", "manager.addrs"},
           {"manager: {refreshInterval: 10ms}", "manager.refreshInterval"},
           {"manager: {refreshInterval: often}", "manager.refreshInterval"},
           {"manager: {keepAliveInterval: 0s}", "manager.keepAliveInterval"},
           {"manager: {keepAliveInterval: 1h}", "manager.keepAliveInterval"},
           {"manager: 3", "manager"},
       }) {
    auto r = ParseDaemonConfig(b.yaml);
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_NE(r.status().message().find(b.named), std::string::npos)
        << b.yaml << ": " << r.status().message();
  }
}

TEST(DaemonConfigTest, EmptyIsDefaults) {
  auto c = ParseDaemonConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->upload.listen, "127.0.0.1:4005");
  EXPECT_TRUE(c->scheduler.addrs.empty());
}

}  // namespace
}  // namespace df::daemon
