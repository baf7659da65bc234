#include "dragonfly/manager/config.h"

#include <gtest/gtest.h>

namespace df::manager {
namespace {

TEST(ManagerConfigTest, DefaultsAreEmbeddedSqlite) {
  auto c = ParseManagerConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->database.dialect, db::Dialect::kSqlite);
  EXPECT_EQ(c->server.rest_listen, "127.0.0.1:8080");
  EXPECT_FALSE(c->server.name.empty());
}

// deploy/config/manager.yaml (`manager config defaults`, the packaged /etc/dragonfly/manager.yaml)
// says what the code does: parsed, it is the built-in defaults.
TEST(ManagerConfigTest, ThePrintedDefaultsAreTheDefaults) {
  auto printed = ParseManagerConfig(std::string(DefaultConfigYaml()));
  ASSERT_TRUE(printed.ok()) << printed.status().ToString();
  auto built_in = ParseManagerConfig("");
  ASSERT_TRUE(built_in.ok());
  EXPECT_TRUE(*printed == *built_in);
  EXPECT_NE(DefaultConfigYaml().find("# "), std::string_view::npos);
}

TEST(ManagerConfigTest, PostgresAndErrorsNamed) {
  auto c = ParseManagerConfig(R"(
database:
  type: postgres
  postgres: {host: db, port: 5433, user: dragonfly, password: pw, dbname: manager}
job: {workers: 2, lease: 10s}
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->database.dialect, db::Dialect::kPostgres);
  EXPECT_EQ(c->database.port, 5433);
  EXPECT_EQ(c->job.lease.count(), 10000);
  auto bad = ParseManagerConfig("database:\n  type: oracle\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("database.type"), std::string::npos);
  auto typo = ParseManagerConfig("auth:\n  rootPasword: x\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("auth.rootPasword"), std::string::npos);
  EXPECT_FALSE(ParseManagerConfig("auth:\n  rootPassword: short\n").ok());
  EXPECT_FALSE(ParseManagerConfig("database:\n  type: mysql\n  mysql: {user: x}\n").ok());
}

}  // namespace
}  // namespace df::manager
