// Migrate: schema versions in schema_migrations, applied under a lock that serializes every
// manager migrating the same database. Each pending version runs in its own transaction that
// takes the lock, re-reads the recorded version (another manager may have applied it while this
// one waited), applies the statements and records the version:
//   SQLite      BEGIN IMMEDIATE (the database's write lock) is the lock;
//   PostgreSQL  pg_advisory_xact_lock, released by COMMIT/ROLLBACK;
//   MySQL       GET_LOCK on the session (DDL commits implicitly, so the lock must outlive
//               transactions), released after COMMIT and, at worst, when the session closes.
// The first pass creates schema_migrations if needed and reads the version: nothing else runs
// when the database is up to date.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "dragonfly/manager/db.h"
#include "manager/db/sql.h"

namespace df::manager::db {
namespace {

constexpr int64_t kPostgresLockKey = 0x6466736368656d61;  // "dfschema"
constexpr int64_t kMysqlLockTimeoutSeconds = 600;
constexpr const char* kMysqlLockName = "CONCAT('df_migrate.', MD5(DATABASE()))";

struct Pending {
  const Migration* migration;
  std::vector<std::string> statements;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status Lock(Database& tx) {
  switch (tx.dialect()) {
    case Dialect::kSqlite:
      return Status::Ok();  // the transaction holds the write lock already
    case Dialect::kPostgres:
      return tx.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kPostgresLockKey) + ")")
          .status();
    case Dialect::kMysql: {
      DF_ASSIGN_OR_RETURN(Result r,
                          tx.Exec(std::string("SELECT GET_LOCK(") + kMysqlLockName + ", ?)",
                                  {kMysqlLockTimeoutSeconds}));
      if (r.rows.empty() || r.rows[0].IsNull(0) || r.rows[0].Int(0) != 1) {
        return DeadlineExceeded("timed out waiting for the schema migration lock");
      }
      // A transaction that starts now, with the lock held, reads what the previous holder
      // committed whatever snapshot the one begun before waiting may have taken.
      DF_RETURN_IF_ERROR(tx.Exec("COMMIT").status());
      return tx.Exec("START TRANSACTION").status();
    }
  }
  return Internal("unknown dialect");
}

// Runs fn in a transaction holding the migration lock.
Status Locked(Database& db, const std::function<Status(Database&)>& fn) {
  return db.Transaction([&](Database& tx) -> Status {
    Status s = Lock(tx);
    if (s.ok()) {
      s = fn(tx);
    }
    if (tx.dialect() == Dialect::kMysql) {
      // End the transaction while the lock is still held, so the next manager to take it sees
      // the recorded version; the Transaction's own COMMIT/ROLLBACK then has nothing to do.
      auto ended = tx.Exec(s.ok() ? "COMMIT" : "ROLLBACK");
      auto unlocked = tx.Exec(std::string("SELECT RELEASE_LOCK(") + kMysqlLockName + ")");
      if (s.ok() && !ended.ok()) {
        s = ended.status();
      }
      if (s.ok() && !unlocked.ok()) {
        s = unlocked.status();
      }
    }
    return s;
  });
}

Status CreateTable(Database& tx) {
  return tx
      .Exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version BIGINT NOT NULL PRIMARY KEY, "
          "name VARCHAR(255) NOT NULL, "
          "applied_at BIGINT NOT NULL)")
      .status();
}

StatusOr<int64_t> CurrentVersion(Database& tx) {
  DF_ASSIGN_OR_RETURN(Result r, tx.Exec("SELECT MAX(version) FROM schema_migrations"));
  return r.rows.empty() ? 0 : r.rows[0].Int(0);
}

}  // namespace

Status Migrate(Database& db, const std::vector<Migration>& migrations) {
  std::vector<Pending> pending;
  for (const Migration& m : migrations) {
    if (m.version <= 0) {
      return InvalidArgument("migration version must be positive: " + std::to_string(m.version));
    }
    DF_ASSIGN_OR_RETURN(std::string sql, internal::ExpandTokens(db.dialect(), m.sql));
    pending.push_back({&m, internal::SplitStatements(sql)});
  }
  std::sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    return a.migration->version < b.migration->version;
  });
  for (size_t i = 1; i < pending.size(); ++i) {
    if (pending[i].migration->version == pending[i - 1].migration->version) {
      return InvalidArgument("duplicate migration version " +
                             std::to_string(pending[i].migration->version));
    }
  }

  int64_t current = 0;
  Status read = Locked(db, [&](Database& tx) -> Status {
    DF_RETURN_IF_ERROR(CreateTable(tx));
    DF_ASSIGN_OR_RETURN(current, CurrentVersion(tx));
    return Status::Ok();
  });
  if (!read.ok()) {
    return read.Annotate("schema_migrations");
  }
  for (const Pending& p : pending) {
    const Migration& m = *p.migration;
    if (m.version <= current) {
      continue;
    }
    bool applied = false;
    Status s = Locked(db, [&](Database& tx) -> Status {
      DF_ASSIGN_OR_RETURN(current, CurrentVersion(tx));
      if (m.version <= current) {
        return Status::Ok();  // another manager applied it while we waited for the lock
      }
      for (const std::string& stmt : p.statements) {
        auto r = tx.Exec(stmt);
        if (!r.ok()) {
          return r.status().Annotate(stmt);
        }
      }
      DF_RETURN_IF_ERROR(
          tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                  {int64_t{m.version}, m.name, NowMs()})
              .status());
      applied = true;
      return Status::Ok();
    });
    if (!s.ok()) {
      return s.Annotate("migration " + std::to_string(m.version) + " (" + m.name + ")");
    }
    if (applied) {
      current = m.version;
      spdlog::info("database: applied migration {} ({})", m.version, m.name);
    }
  }
  return Status::Ok();
}

}  // namespace df::manager::db
