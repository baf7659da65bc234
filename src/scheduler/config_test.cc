#include "dragonfly/scheduler/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace df::scheduler {
namespace {

TEST(SchedulerConfigTest, DefaultsAndFullFile) {
  auto d = ParseSchedulerConfig(YAML::Node());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->listen, "127.0.0.1:8002");
  EXPECT_EQ(d->scheduler.candidate_parent_limit, 4u);
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

TEST(SchedulerConfigTest, SplitHostPort) {
  auto hp = SplitHostPort("127.0.0.1:8002");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 8002);
  hp = SplitHostPort("[::1]:0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "::1");
  EXPECT_FALSE(SplitHostPort("host:").ok());
  EXPECT_FALSE(SplitHostPort("host:70000").ok());
  EXPECT_FALSE(SplitHostPort(":80").ok());
}

}  // namespace
}  // namespace df::scheduler
