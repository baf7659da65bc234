// SerializedDatabase: db::Database over one internal::Connection. Every call takes mu_, checks
// the connection (re-opening a lost one) and runs on it; Transaction holds mu_ until it ends and
// hands fn a TxDatabase that runs on the same connection without locking or reconnecting.
#include "dragonfly/manager/db.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>

#include "manager/db/connection.h"
#include "manager/db/sql.h"

namespace df::manager::db {

const char* DialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::kSqlite:
      return "sqlite";
    case Dialect::kPostgres:
      return "postgres";
    case Dialect::kMysql:
      return "mysql";
  }
  return "unknown";
}

namespace {

// Truncates toward zero, saturating at the int64 range (NaN is 0).
int64_t DoubleToInt(double d) {
  if (std::isnan(d)) {
    return 0;
  }
  if (d >= 9223372036854775807.0) {
    return std::numeric_limits<int64_t>::max();
  }
  if (d <= -9223372036854775808.0) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(d);
}

}  // namespace

int64_t Row::Int(size_t i) const {
  const Value& v = cells.at(i);
  if (const auto* n = std::get_if<int64_t>(&v)) {
    return *n;
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return DoubleToInt(*d);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (auto n = internal::ParseInt(*s)) {
      return *n;
    }
    if (auto d = internal::ParseDouble(*s)) {
      return DoubleToInt(*d);
    }
  }
  return 0;
}

std::string Row::Text(size_t i) const {
  const Value& v = cells.at(i);
  if (const auto* s = std::get_if<std::string>(&v)) {
    return *s;
  }
  if (const auto* n = std::get_if<int64_t>(&v)) {
    return std::to_string(*n);
  }
  if (const auto* d = std::get_if<double>(&v)) {
    return internal::FormatDouble(*d);
  }
  return "";
}

namespace internal {

bool IdleSocketHasInput(int fd) {
  if (fd < 0) {
    return true;
  }
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable, hung up, in error, or poll failed
}

}  // namespace internal

namespace {

class SerializedDatabase final : public Database {
 public:
  SerializedDatabase(Dialect dialect, std::unique_ptr<internal::Connection> conn)
      : dialect_(dialect), conn_(std::move(conn)) {}

  Dialect dialect() const override { return dialect_; }

  StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params) override {
    DF_RETURN_IF_ERROR(NotInTransaction("Exec"));
    std::lock_guard lock(mu_);
    DF_RETURN_IF_ERROR(EnsureConnected());
    return conn_->Exec(sql, params);
  }

  StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params) override {
    DF_RETURN_IF_ERROR(NotInTransaction("Insert"));
    std::lock_guard lock(mu_);
    DF_RETURN_IF_ERROR(EnsureConnected());
    return conn_->Insert(sql, params);
  }

  Status Transaction(const std::function<Status(Database& tx)>& fn) override {
    DF_RETURN_IF_ERROR(NotInTransaction("Transaction"));
    std::lock_guard lock(mu_);
    DF_RETURN_IF_ERROR(EnsureConnected());
    DF_RETURN_IF_ERROR(conn_->Begin());
    TxDatabase tx(dialect_, *conn_);
    tx_thread_ = std::this_thread::get_id();
    Status s;
    try {
      s = fn(tx);
    } catch (...) {
      tx_thread_ = std::thread::id();
      Rollback();
      throw;
    }
    tx_thread_ = std::thread::id();
    if (s.ok()) {
      s = conn_->Commit();
      if (s.ok()) {
        return s;
      }
      s = s.Annotate("commit");
    }
    Rollback();
    return s;
  }

 private:
  // fn's view of the transaction: the same connection, already locked, never reconnected.
  class TxDatabase final : public Database {
   public:
    TxDatabase(Dialect dialect, internal::Connection& conn) : dialect_(dialect), conn_(conn) {}
    Dialect dialect() const override { return dialect_; }
    StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params) override {
      return conn_.Exec(sql, params);
    }
    StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params) override {
      return conn_.Insert(sql, params);
    }
    Status Transaction(const std::function<Status(Database&)>&) override {
      return FailedPrecondition("Transaction: already in a transaction (not re-entrant)");
    }

   private:
    Dialect dialect_;
    internal::Connection& conn_;
  };

  Status NotInTransaction(const char* what) const {
    if (tx_thread_.load() == std::this_thread::get_id()) {
      return FailedPrecondition(std::string(what) +
                                ": called on the Database inside its own Transaction; use the "
                                "transaction's handle");
    }
    return Status::Ok();
  }

  Status EnsureConnected() {
    if (conn_->Healthy()) {
      return Status::Ok();
    }
    spdlog::warn("database: {} connection lost, reconnecting", DialectName(dialect_));
    return conn_->Connect();
  }

  // After a failed transaction. If even ROLLBACK fails, the session's state is unknown: drop it
  // (the server rolls back what is left when the connection closes).
  void Rollback() {
    if (!conn_->Healthy()) {
      conn_->MarkBroken();  // lost: the server has rolled back already
      return;
    }
    Status s = conn_->Rollback();
    if (!s.ok()) {
      spdlog::warn("database: rollback failed, dropping the connection: {}", s.ToString());
      conn_->MarkBroken();
    }
  }

  const Dialect dialect_;
  std::mutex mu_;
  std::unique_ptr<internal::Connection> conn_;  // guarded by mu_
  std::atomic<std::thread::id> tx_thread_{};    // the thread running a Transaction's fn
};

}  // namespace

StatusOr<std::unique_ptr<Database>> Open(const Config& config) {
  StatusOr<std::unique_ptr<internal::Connection>> conn = Internal("unknown dialect");
  switch (config.dialect) {
    case Dialect::kSqlite:
      conn = internal::OpenSqlite(config);
      break;
    case Dialect::kPostgres:
      conn = internal::OpenPostgres(config);
      break;
    case Dialect::kMysql:
      conn = internal::OpenMysql(config);
      break;
  }
  if (!conn.ok()) {
    return conn.status();
  }
  return std::unique_ptr<Database>(
      std::make_unique<SerializedDatabase>(config.dialect, std::move(conn).value()));
}

}  // namespace df::manager::db
