// The manager's database: one small interface over SQLite (the embedded default), PostgreSQL and
// MySQL/MariaDB. SQL is written once with `?` placeholders (translated to $1.. for PostgreSQL)
// and the portable subset the three share; schema differences go through the `{{...}}` tokens
// of migrations (see Migrate). Timestamps are BIGINT milliseconds since the epoch.
//
// Thread-safe: calls are serialized on one connection per Database (a mutex), so a Database is
// one session; open several for parallelism. Each call checks the connection first and
// re-opens a lost PostgreSQL/MySQL connection (killed, server restarted, idle timeout) before
// running. A statement that fails because the connection dropped while it ran returns
// kUnavailable and is not retried (it may have been applied); the next call reconnects.
//
// Dialect notes: SQLite runs in WAL mode with foreign keys on and a busy timeout, and starts
// transactions with BEGIN IMMEDIATE. MySQL sessions use sql_mode STRICT_ALL_TABLES,
// NO_BACKSLASH_ESCAPES and PIPES_AS_CONCAT (standard string literals and ||), report matched
// rather than changed rows, and need a utf8mb4 database; DDL there commits implicitly, so it
// is not rolled back with its transaction. PostgreSQL parameters are sent untyped and take the
// type their place in the statement gives them; where there is none (`? IS NULL`), write
// CAST(? AS BIGINT). PostgreSQL text must not contain NUL bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::manager::db {

enum class Dialect { kSqlite, kPostgres, kMysql };

// "sqlite", "postgres" or "mysql".
const char* DialectName(Dialect dialect);

// A bound parameter or a result cell. NULL, integer, real or text (blobs as text). Cells are
// typed by their column: integer and boolean columns give int64, floating-point ones double,
// DECIMAL/NUMERIC int64 when integral (SUM on PostgreSQL/MySQL) else double, the rest text.
using Value = std::variant<std::nullptr_t, int64_t, double, std::string>;

struct Row {
  std::vector<Value> cells;
  bool IsNull(size_t i) const { return std::holds_alternative<std::nullptr_t>(cells.at(i)); }
  // Integer value of cell i (text is parsed; NULL is 0).
  int64_t Int(size_t i) const;
  // Text value of cell i (integers are formatted; NULL is "").
  std::string Text(size_t i) const;
};

struct Result {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  // Rows matched by UPDATE/DELETE, or inserted by INSERT (MySQL too: matched, not changed, so
  // `UPDATE ... SET x = x` counts). 0 for statements that return rows.
  int64_t affected_rows = 0;
};

struct Config {
  Dialect dialect = Dialect::kSqlite;
  std::string sqlite_path;  // kSqlite: file path (created if missing)
  // kPostgres / kMysql:
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = 5432 / 3306
  std::string user;
  std::string password;
  std::string dbname;
  std::string unix_socket;  // optional: connect through this socket instead of host:port
  bool operator==(const Config&) const = default;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;

  // Runs one statement with `params` bound to its `?` placeholders in order (a `?` inside a
  // string literal, quoted identifier or comment is not a placeholder).
  // Errors, with the database's message: kInvalidArgument when the number of params does not
  // match the placeholders; kAlreadyExists on constraint violations (UNIQUE, PRIMARY KEY,
  // FOREIGN KEY, NOT NULL, CHECK); kAborted on deadlock / serialization failure (retry the
  // transaction); kUnavailable when the database cannot be reached or the connection dropped
  // (SQLite: still locked after the busy timeout); kInternal otherwise.
  virtual StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;

  // Runs an INSERT and returns the new row's `id` (RETURNING id on PostgreSQL, last insert id
  // elsewhere). kNotFound if no row was inserted.
  virtual StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params = {}) = 0;

  // Runs `fn` in a transaction on this connection: committed when fn returns OK, rolled back
  // otherwise (and on a failed commit; PostgreSQL: also when a statement inside failed, even if
  // fn ignored that). Other callers wait until it ends. `tx` is valid only inside fn and never
  // reconnects. Not re-entrant: calling Transaction on `tx`, or this Database from fn's thread,
  // returns kFailedPrecondition.
  virtual Status Transaction(const std::function<Status(Database& tx)>& fn) = 0;
};

// Opens the database and connects (kUnavailable when it cannot be reached).
StatusOr<std::unique_ptr<Database>> Open(const Config& config);

// One schema version. `sql` holds statements separated by ";\n" and may use these tokens:
//   {{ID}}        auto-increment BIGINT primary key column type
//   {{TEXT}}      unbounded text (TEXT / TEXT / LONGTEXT)
//   {{BIGINT}}    64-bit integer
// Indexed or UNIQUE text columns use VARCHAR(n) with n <= 255 (MySQL needs a bound).
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// Applies, in order, every migration newer than the database's recorded version (table
// schema_migrations(version, name, applied_at)), each in its own transaction where the dialect
// allows (MySQL commits DDL implicitly: a migration that fails half-way there must be repaired
// by hand). Safe when several managers start at once on one database: they serialize on a
// lock (SQLite BEGIN IMMEDIATE, PostgreSQL pg_advisory_xact_lock, MySQL GET_LOCK) and each
// version is applied once. Versions must be positive and distinct (kInvalidArgument).
Status Migrate(Database& db, const std::vector<Migration>& migrations);

}  // namespace df::manager::db
