#include "manager/cluster_model.h"

#include <gtest/gtest.h>

namespace df::manager {
namespace {

TEST(ClusterModelTest, ReadsAndWritesTheApisJson) {
  json body = json::parse(R"({
    "name": "gpu", "is_default": false,
    "scopes": {"idc": "a|b", "cidrs": ["10.1.0.0/16", "fd00::/8"]},
    "scheduler_cluster_config": {
      "candidate_parent_limit": 4,
      "blocklist": {"client": {"task": {"urls": ["^https://r/v2/secret/"], "tags": ["x"]}}}}})");
  auto spec = ClusterSpec::FromJson(body);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(*spec->name, "gpu");
  EXPECT_EQ(spec->scopes->cidrs.size(), 2u);
  EXPECT_EQ(spec->config->candidate_parent_limit, 4u);
  EXPECT_FALSE(spec->config->filter_parent_limit.has_value());
  EXPECT_EQ(spec->config->blocklist->client.urls[0], "^https://r/v2/secret/");
  EXPECT_TRUE(spec->config->blocklist->seed_client.empty());
  EXPECT_FALSE(spec->bio.has_value());

  // What it writes, read again, is the same config.
  json out = spec->config->ToJson();
  EXPECT_EQ(out["blocklist"]["client"]["task"]["tags"], json({"x"}));
  EXPECT_FALSE(out.contains("filter_parent_limit"));
  EXPECT_EQ(ClusterConfig::FromJson(out, "config").value(), *spec->config);
}

TEST(ClusterModelTest, APatchChangesOnlyWhatItGives) {
  ClusterConfig cur =
      ClusterConfig::FromJson(
          json::parse(R"({"candidate_parent_limit": 4, "blocked_hosts": ["h1"]})"), "config")
          .value();
  ClusterConfig patch =
      ClusterConfig::FromJson(
          json::parse(R"({"blocklist": {"seed_client": {"task": {"applications": ["a"]}}}})"),
          "config")
          .value();
  cur.Merge(patch);
  EXPECT_EQ(cur.candidate_parent_limit, 4u);
  EXPECT_EQ(cur.blocked_hosts, std::vector<std::string>{"h1"});
  EXPECT_EQ(cur.blocklist->seed_client.applications, std::vector<std::string>{"a"});
}

TEST(ClusterModelTest, BadInputIsRefusedNamingTheField) {
  auto message = [](const json& body) {
    auto s = ClusterSpec::FromJson(body);
    EXPECT_FALSE(s.ok()) << body.dump();
    return s.ok() ? std::string() : s.status().message();
  };
  EXPECT_EQ(message({{"name", "bad name"}}), "name must be 1 to 191 characters of [A-Za-z0-9_.-]");
  EXPECT_EQ(message({{"scopes", {{"cidrs", {"10.0.0.0/99"}}}}}),
            "scopes.cidrs: bad CIDR 10.0.0.0/99");
  EXPECT_EQ(message({{"scopes", {{"hostnames", {"("}}}}}), "scopes.hostnames: bad regex (");
  EXPECT_EQ(message({{"scopes", {{"zone", "x"}}}}),
            "scopes: unknown field zone (idc, location, cidrs, hostnames)");
  EXPECT_EQ(message({{"config", {{"candidate_parent_limit", 0}}}}),
            "candidate_parent_limit must be 1 to 20");
  EXPECT_EQ(message({{"config", {{"upload_slots", -1}}}}),
            "config.upload_slots must be an integer 0 to 1000");
  EXPECT_EQ(message({{"config", {{"speed", 1}}}}), "config: unknown setting speed");
  EXPECT_NE(
      message(json::parse(R"({"config": {"blocklist": {"client": {"task": {"urls": ["(x"]}}}}})"))
          .find("blocklist.client.task.urls: bad regex \"(x\""),
      std::string::npos);
  EXPECT_EQ(message(json::parse(R"({"config": {"blocklist": {"peers": {}}}})")),
            "blocklist: unknown field peers (client, seed_client)");
  EXPECT_EQ(
      message(json::parse(R"({"config": {"blocklist": {"client": {"task": {"urls": "x"}}}}})")),
      "blocklist.client.task.urls must be a list of at most 100 strings");
}

}  // namespace
}  // namespace df::manager
