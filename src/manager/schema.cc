// The manager's schema, one migration per version. Portable SQL for SQLite, PostgreSQL and
// MySQL/MariaDB (see db.h for the tokens). Times are milliseconds since the epoch; JSON columns
// hold JSON text.
#include "manager/schema.h"

namespace df::manager {

const std::vector<db::Migration>& Migrations() {
  static const std::vector<db::Migration> kMigrations = {
      {1, "initial schema", R"(
CREATE TABLE settings (
  name VARCHAR(191) NOT NULL PRIMARY KEY,
  value {{TEXT}} NOT NULL
);
CREATE TABLE users (
  id {{ID}},
  name VARCHAR(191) NOT NULL UNIQUE,
  email VARCHAR(255) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  role VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  created_at {{BIGINT}} NOT NULL,
  updated_at {{BIGINT}} NOT NULL
);
CREATE TABLE personal_access_tokens (
  id {{ID}},
  name VARCHAR(191) NOT NULL,
  bio {{TEXT}},
  token_hash VARCHAR(64) NOT NULL UNIQUE,
  scopes VARCHAR(255) NOT NULL,
  state VARCHAR(32) NOT NULL,
  expired_at {{BIGINT}} NOT NULL,
  user_id {{BIGINT}} NOT NULL,
  created_at {{BIGINT}} NOT NULL,
  updated_at {{BIGINT}} NOT NULL
);
CREATE TABLE clusters (
  id {{ID}},
  name VARCHAR(191) NOT NULL UNIQUE,
  bio {{TEXT}},
  scopes {{TEXT}} NOT NULL,
  config {{TEXT}} NOT NULL,
  config_version {{BIGINT}} NOT NULL,
  is_default INTEGER NOT NULL,
  created_at {{BIGINT}} NOT NULL,
  updated_at {{BIGINT}} NOT NULL
);
CREATE TABLE components (
  id {{ID}},
  type VARCHAR(32) NOT NULL,
  hostname VARCHAR(191) NOT NULL,
  ip VARCHAR(64) NOT NULL,
  port INTEGER NOT NULL,
  piece_port INTEGER NOT NULL,
  idc VARCHAR(191) NOT NULL,
  location VARCHAR(191) NOT NULL,
  state VARCHAR(32) NOT NULL,
  cluster_id {{BIGINT}} NOT NULL,
  manager VARCHAR(191) NOT NULL,
  last_keepalive_at {{BIGINT}} NOT NULL,
  created_at {{BIGINT}} NOT NULL,
  updated_at {{BIGINT}} NOT NULL,
  UNIQUE (type, hostname, ip, port, cluster_id)
);
CREATE TABLE jobs (
  id {{ID}},
  task_id VARCHAR(64) NOT NULL,
  bio {{TEXT}},
  type VARCHAR(32) NOT NULL,
  state VARCHAR(32) NOT NULL,
  args {{TEXT}} NOT NULL,
  result {{TEXT}},
  user_id {{BIGINT}} NOT NULL,
  scheduler_cluster_ids {{TEXT}} NOT NULL,
  owner VARCHAR(191),
  lease_until {{BIGINT}} NOT NULL,
  attempts INTEGER NOT NULL,
  harbor_key VARCHAR(191),
  created_at {{BIGINT}} NOT NULL,
  updated_at {{BIGINT}} NOT NULL
);
CREATE INDEX jobs_state ON jobs (state, lease_until);
CREATE INDEX jobs_harbor_key ON jobs (harbor_key)
)"},
      {2, "applications", R"(
CREATE TABLE applications (
  id {{ID}},
  name VARCHAR(191) NOT NULL UNIQUE,
  url VARCHAR(1024) NOT NULL,
  bio {{TEXT}},
  priority {{TEXT}} NOT NULL,
  user_id {{BIGINT}} NOT NULL,
  created_at {{BIGINT}} NOT NULL,
  updated_at {{BIGINT}} NOT NULL
)
)"},
      {3, "bootstrap tokens of the cluster CA", R"(
CREATE TABLE bootstrap_tokens (
  id VARCHAR(16) NOT NULL PRIMARY KEY,
  secret_hash VARCHAR(64) NOT NULL,
  role VARCHAR(32) NOT NULL,
  name VARCHAR(253) NOT NULL,
  description VARCHAR(255) NOT NULL,
  user_id {{BIGINT}} NOT NULL,
  uses {{BIGINT}} NOT NULL,
  expires_at {{BIGINT}} NOT NULL,
  created_at {{BIGINT}} NOT NULL
)
)"},
      {4, "component versions", R"(
ALTER TABLE components ADD COLUMN version VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE components ADD COLUMN git_commit VARCHAR(64) NOT NULL DEFAULT ''
)"},
  };
  return kMigrations;
}

}  // namespace df::manager
