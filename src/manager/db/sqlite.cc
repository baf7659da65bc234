// SQLite connection: one sqlite3 handle in WAL mode with foreign keys on and a busy timeout.
// Transactions start with BEGIN IMMEDIATE, so a transaction that reads then writes never fails
// on lock upgrade, and concurrent writers (other Databases, other processes) wait for the lock.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "manager/db/connection.h"

namespace df::manager::db::internal {
namespace {

constexpr int kBusyTimeoutMs = 10000;

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(std::string path) : path_(std::move(path)) {}
  ~SqliteConnection() override { Close(); }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Status Connect() override {
    Close();
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty() && std::filesystem::create_directories(parent, ec)) {
      std::filesystem::permissions(parent, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    }
    // The database holds the JWT signing key and password hashes: the manager's user only
    // (SQLite gives its -wal and -shm files the main file's mode).
    if (path_ != ":memory:" && path_.rfind("file:", 0) != 0) {
      int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0 || ::fchmod(fd, 0600) != 0) {
        int err = errno;
        if (fd >= 0) {
          ::close(fd);
        }
        return Unavailable("open sqlite " + path_ + ": " + std::strerror(err));
      }
      ::close(fd);
    }
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status s = Unavailable("open sqlite " + path_ + ": " +
                             (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
      Close();
      return s;
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    for (const char* pragma :
         {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"}) {
      auto r = Exec(pragma, {});
      if (!r.ok()) {
        Close();
        return r.status().Annotate("open sqlite " + path_);
      }
    }
    return Status::Ok();
  }

  bool Healthy() override { return db_ != nullptr; }
  void MarkBroken() override { Close(); }

  StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params) override {
    if (db_ == nullptr) {
      return Unavailable("sqlite database is closed");
    }
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
    Stmt stmt(raw);
    if (rc != SQLITE_OK) {
      return Error(rc);
    }
    DF_RETURN_IF_ERROR(CheckSingleStatement(sql, tail));
    Result result;
    if (stmt == nullptr) {
      return result;  // only blanks or comments
    }
    int nparams = sqlite3_bind_parameter_count(stmt.get());
    if (static_cast<size_t>(nparams) != params.size()) {
      return InvalidArgument("statement has " + std::to_string(nparams) + " placeholders, got " +
                             std::to_string(params.size()) + " params");
    }
    for (int i = 0; i < nparams; ++i) {
      rc = Bind(stmt.get(), i + 1, params[i]);
      if (rc != SQLITE_OK) {
        return Error(rc);
      }
    }
    int ncols = sqlite3_column_count(stmt.get());
    for (int i = 0; i < ncols; ++i) {
      result.columns.emplace_back(sqlite3_column_name(stmt.get(), i));
    }
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      Row& row = result.rows.emplace_back();
      row.cells.reserve(ncols);
      for (int i = 0; i < ncols; ++i) {
        row.cells.push_back(Column(stmt.get(), i));
      }
    }
    if (rc != SQLITE_DONE) {
      return Error(rc);
    }
    if (!sqlite3_stmt_readonly(stmt.get()) && ncols == 0) {
      result.affected_rows = sqlite3_changes64(db_);
    }
    return result;
  }

  StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params) override {
    DF_ASSIGN_OR_RETURN(Result r, Exec(sql, params));
    if (r.affected_rows == 0) {
      return NotFound("INSERT inserted no row");
    }
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  }

  Status Begin() override { return Exec("BEGIN IMMEDIATE", {}).status(); }

 private:
  struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

  void Close() {
    if (db_ != nullptr) {
      sqlite3_close_v2(db_);
      db_ = nullptr;
    }
  }

  // One statement per call, as on the other dialects: anything but blanks and comments after
  // the first statement is an error.
  Status CheckSingleStatement(std::string_view sql, const char* tail) {
    const char* end = sql.data() + sql.size();
    while (tail != nullptr && tail < end) {
      sqlite3_stmt* raw = nullptr;
      const char* next = nullptr;
      int rc = sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &raw, &next);
      Stmt stmt(raw);
      if (rc != SQLITE_OK || stmt != nullptr) {
        return InvalidArgument("one statement per call: " + std::string(sql));
      }
      if (next == tail) {
        break;
      }
      tail = next;
    }
    return Status::Ok();
  }

  static int Bind(sqlite3_stmt* stmt, int i, const Value& v) {
    if (const auto* n = std::get_if<int64_t>(&v)) {
      return sqlite3_bind_int64(stmt, i, *n);
    }
    if (const auto* d = std::get_if<double>(&v)) {
      return sqlite3_bind_double(stmt, i, *d);
    }
    if (const auto* s = std::get_if<std::string>(&v)) {
      return sqlite3_bind_text64(stmt, i, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    return sqlite3_bind_null(stmt, i);
  }

  static Value Column(sqlite3_stmt* stmt, int i) {
    switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(stmt, i));
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, i);
      case SQLITE_NULL:
        return nullptr;
      case SQLITE_BLOB: {
        const void* p = sqlite3_column_blob(stmt, i);
        int n = sqlite3_column_bytes(stmt, i);
        return p == nullptr ? std::string()
                            : std::string(static_cast<const char*>(p), static_cast<size_t>(n));
      }
      default: {
        const unsigned char* p = sqlite3_column_text(stmt, i);
        int n = sqlite3_column_bytes(stmt, i);
        return p == nullptr ? std::string()
                            : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
      }
    }
  }

  Status Error(int rc) const {
    std::string msg = std::string("sqlite: ") + sqlite3_errmsg(db_);
    switch (rc & 0xff) {
      case SQLITE_CONSTRAINT:
        return {StatusCode::kAlreadyExists, msg};
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return Unavailable(msg);
      case SQLITE_RANGE:
      case SQLITE_MISMATCH:
        return InvalidArgument(msg);
      default:
        return Internal(msg);
    }
  }

  const std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> OpenSqlite(const Config& config) {
  if (config.sqlite_path.empty()) {
    return InvalidArgument("sqlite: no database path");
  }
  auto conn = std::make_unique<SqliteConnection>(config.sqlite_path);
  DF_RETURN_IF_ERROR(conn->Connect());
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace df::manager::db::internal
