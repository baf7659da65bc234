#include "dragonfly/cli/client_config.h"

#include <gtest/gtest.h>

namespace df::cli {
namespace {

// deploy/config/{dfget,dfinit,dfcert}.yaml (`config defaults`, the packaged files) say what the
// code does: parsed, each is the built-in defaults.
TEST(ClientConfigTest, ThePrintedDefaultsAreTheDefaults) {
  auto client = ParseClientConfig(std::string(DefaultClientConfigYaml()));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_TRUE(*client == ClientConfig{});
  auto dfinit = ParseDfinitConfig(std::string(DefaultDfinitConfigYaml()));
  ASSERT_TRUE(dfinit.ok()) << dfinit.status().ToString();
  EXPECT_TRUE(*dfinit == DfinitConfig{});
  auto dfcert = ParseDfcertConfig(std::string(DefaultDfcertConfigYaml()));
  ASSERT_TRUE(dfcert.ok()) << dfcert.status().ToString();
  EXPECT_TRUE(*dfcert == DfcertConfig{});
}

TEST(ClientConfigTest, ValuesAndErrorsNamed) {
  auto c = ParseClientConfig("endpoint: /run/df.sock\ntimeout: 90s\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->endpoint, "/run/df.sock");
  EXPECT_EQ(c->timeout, std::chrono::seconds(90));
  EXPECT_NE(ParseClientConfig("endpont: x\n").status().message().find("'endpont'"),
            std::string::npos);
  EXPECT_FALSE(ParseClientConfig("timeout: soon\n").ok());
  EXPECT_FALSE(ParseClientConfig("endpoint: \"\"\n").ok());
  auto d = ParseDfinitConfig("containerd:\n  registries: [docker.io, \"r.example=https://r\"]\n");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->containerd.registries.size(), 2u);
  EXPECT_NE(ParseDfinitConfig("containerd:\n  registry: [x]\n")
                .status()
                .message()
                .find("'containerd.registry'"),
            std::string::npos);
  EXPECT_FALSE(ParseDfcertConfig("certTTL: 10s\n").ok());
  EXPECT_FALSE(ParseDfcertConfig("- a list\n").ok());
  EXPECT_EQ(LoadClientConfig("/nonexistent/dfget.yaml", true)->endpoint, ClientConfig{}.endpoint);
  EXPECT_EQ(LoadClientConfig("/nonexistent/dfget.yaml", false).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace df::cli
