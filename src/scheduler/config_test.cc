#include "dragonfly/scheduler/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <vector>

namespace df::scheduler {
namespace {

TEST(SchedulerConfigTest, DefaultsAndFullFile) {
  auto d = ParseSchedulerConfig(YAML::Node());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->listen, "127.0.0.1:8002");
  EXPECT_EQ(d->scheduler.candidate_parent_limit, 8u);
  EXPECT_EQ(d->scheduler.retry_interval.count(), 200);

  auto c = ParseSchedulerConfig(YAML::Load(R"(
server:
  listen: 0.0.0.0:9002
metrics:
  listen: 127.0.0.1:9000
scheduler:
  candidateParentLimit: 6
  backToSourceCount: 5
  retryInterval: 300ms
  peerTTL: 5m
  hostTTL: 1m
  gcInterval: 2s
log:
  level: debug
)"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, "0.0.0.0:9002");
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9000");
  EXPECT_EQ(c->scheduler.candidate_parent_limit, 6u);
  EXPECT_EQ(c->scheduler.back_to_source_count, 5u);
  EXPECT_EQ(c->scheduler.retry_interval.count(), 300);
  EXPECT_EQ(c->scheduler.peer_ttl, std::chrono::minutes(5));
  EXPECT_EQ(c->scheduler.host_ttl, std::chrono::minutes(1));
  EXPECT_EQ(c->scheduler.gc_interval, std::chrono::seconds(2));
  EXPECT_EQ(c->log_level, "debug");
}

// deploy/config/scheduler.yaml (`scheduler config defaults`, the packaged
// /etc/dragonfly/scheduler.yaml) says what the code does: parsed, it is the built-in defaults.
TEST(SchedulerConfigTest, ThePrintedDefaultsAreTheDefaults) {
  auto printed = ParseSchedulerConfig(YAML::Load(std::string(DefaultConfigYaml())));
  ASSERT_TRUE(printed.ok()) << printed.status().ToString();
  auto built_in = ParseSchedulerConfig(YAML::Node());
  ASSERT_TRUE(built_in.ok());
  EXPECT_TRUE(*printed == *built_in);
  EXPECT_NE(DefaultConfigYaml().find("# "), std::string_view::npos);
}

TEST(SchedulerConfigTest, UnknownKeysAndBadValuesAreNamed) {
  auto c = ParseSchedulerConfig(YAML::Load("scheduler:\n  peerTtl: 5m\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("scheduler.peerTtl"), std::string::npos);
  c = ParseSchedulerConfig(YAML::Load("server:\n  adress: x\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("server.adress"), std::string::npos);
  c = ParseSchedulerConfig(YAML::Load("server:\n  listen: nohostport\n"));
  EXPECT_FALSE(c.ok());
  c = ParseSchedulerConfig(YAML::Load("scheduler:\n  candidateParentLimit: 0\n"));
  EXPECT_FALSE(c.ok());
}

TEST(SchedulerConfigTest, ManagerAndHostSections) {
  auto d = ParseSchedulerConfig(YAML::Node());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->manager.addr.empty());  // no manager by default
  EXPECT_EQ(d->manager.cluster_id, 1u);
  EXPECT_EQ(d->manager.keep_alive_interval, std::chrono::seconds(2));
  EXPECT_FALSE(d->host.hostname.empty());  // gethostname()

  auto c = ParseSchedulerConfig(YAML::Load(R"(
host: {hostname: sched-a, ip: 10.0.0.2, idc: idc-1, location: "cn|hz"}
manager: {addr: "10.0.0.1:65003", clusterID: 3, keepAliveInterval: 500ms}
)"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->manager.addr, "10.0.0.1:65003");
  EXPECT_EQ(c->manager.cluster_id, 3u);
  EXPECT_EQ(c->manager.keep_alive_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(c->host.hostname, "sched-a");
  EXPECT_EQ(c->host.ip, "10.0.0.2");
  EXPECT_EQ(c->host.idc, "idc-1");
  EXPECT_EQ(c->host.location, "cn|hz");

  struct Bad {
    const char* yaml;
    const char* named;
  };
  for (const Bad& b : std::vector<Bad>{
           {"manager: {adr: x:1}", "manager.adr"},
           {"manager: {clusterId: 1}", "manager.clusterId"},
           {"manager: {addr: nohostport}", "manager.addr"},
           {"manager: {addr: \"h:99999\"}", "manager.addr"},
           {"manager: {clusterID: -1}", "manager.clusterID"},
           {"manager: {clusterID: one}", "manager.clusterID"},
           {"manager: {keepAliveInterval: 0s}", "manager.keepAliveInterval"},
           {"manager: {keepAliveInterval: soon}", "manager.keepAliveInterval"},
           {"manager: [a]", "manager"},
           {"host: {name: x}", "host.name"},
       }) {
    auto r = ParseSchedulerConfig(YAML::Load(b.yaml));
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_NE(r.status().message().find(b.named), std::string::npos)
        << b.yaml << ": " << r.status().message();
  }
}

TEST(SchedulerConfigTest, MissingFile) {
  EXPECT_EQ(LoadSchedulerConfig("/nonexistent/scheduler.yaml").status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(LoadSchedulerConfig("/nonexistent/scheduler.yaml", true).ok());
  std::string path = ::testing::TempDir() + "/scheduler_test.yaml";
  std::ofstream(path) << "log:\n  level: warn\n";
  auto c = LoadSchedulerConfig(path);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->log_level, "warn");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace df::scheduler
