// Internal: one dialect's connection behind db::Database. A Connection is not thread-safe;
// SerializedDatabase (db.cc) owns one, serializes every call on a mutex, re-opens it when it is
// lost and runs transactions on it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/manager/db.h"

namespace df::manager::db::internal {

class Connection {
 public:
  virtual ~Connection() = default;

  // (Re)opens the connection, dropping any previous one. kUnavailable when unreachable.
  virtual Status Connect() = 0;
  // False when the connection is known to be lost, or was closed by the server while idle
  // (checked without a round trip). Called only between statements.
  virtual bool Healthy() = 0;
  // Marks the connection unusable (the next call outside a transaction re-opens it).
  virtual void MarkBroken() = 0;

  virtual StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params) = 0;
  virtual StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params) = 0;

  virtual Status Begin() { return Exec("BEGIN", {}).status(); }
  virtual Status Commit() { return Exec("COMMIT", {}).status(); }
  virtual Status Rollback() { return Exec("ROLLBACK", {}).status(); }
};

// Each opens and connects (Connect()); the Config's dialect is not checked.
StatusOr<std::unique_ptr<Connection>> OpenSqlite(const Config& config);
StatusOr<std::unique_ptr<Connection>> OpenPostgres(const Config& config);
StatusOr<std::unique_ptr<Connection>> OpenMysql(const Config& config);

// Whether an idle client socket has anything to read (or is closed / in error): a server only
// writes to an idle connection to say it is closing it.
bool IdleSocketHasInput(int fd);

}  // namespace df::manager::db::internal
