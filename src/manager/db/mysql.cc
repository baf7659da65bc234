// MySQL/MariaDB connection over MariaDB Connector/C: every statement with parameters is a
// server-side prepared statement (mysql_stmt_*: no escaping, `?` inside literals is left alone
// by the server's parser), results come back in the binary protocol and are converted by column
// type. Statements without parameters that cannot be prepared fall back to the text protocol.
#include <mysql.h>
#include <mysqld_error.h>

#include <cstring>
#include <limits>
#include <mutex>

#include "manager/db/connection.h"
#include "manager/db/sql.h"

namespace df::manager::db::internal {
namespace {

// Portable SQL: standard string literals (backslash is not an escape) and || concatenation.
constexpr const char* kInitCommand =
    "SET SESSION sql_mode = "
    "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT'";
constexpr size_t kInitialTextBuffer = 256;

void InitLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

bool IsConnectionError(unsigned err) {
  switch (err) {
    case 2002:                  // CR_CONNECTION_ERROR
    case 2003:                  // CR_CONN_HOST_ERROR
    case 2006:                  // CR_SERVER_GONE_ERROR
    case 2013:                  // CR_SERVER_LOST
    case 2026:                  // CR_SSL_CONNECTION_ERROR
    case 2055:                  // CR_SERVER_LOST_EXTENDED
    case ER_SERVER_SHUTDOWN:    // 1053
    case ER_CONNECTION_KILLED:  // 1927
    case 4031:                  // MySQL 8: ER_CLIENT_INTERACTION_TIMEOUT
      return true;
    default:
      return false;
  }
}

enum class Kind { kInt, kDouble, kDecimal, kText };

Kind KindOf(enum_field_types type) {
  switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
      return Kind::kInt;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
      return Kind::kDouble;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
      return Kind::kDecimal;
    default:
      return Kind::kText;
  }
}

// A cell from the text protocol.
Value TextCell(Kind kind, std::string_view text) {
  switch (kind) {
    case Kind::kInt:
      if (auto n = ParseInt(text)) {
        return *n;
      }
      break;
    case Kind::kDouble:
      if (auto d = ParseDouble(text)) {
        return *d;
      }
      break;
    case Kind::kDecimal:
      return ParseDecimal(text);
    case Kind::kText:
      break;
  }
  return std::string(text);
}

struct StmtDeleter {
  void operator()(MYSQL_STMT* s) const { mysql_stmt_close(s); }
};
struct ResDeleter {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using Stmt = std::unique_ptr<MYSQL_STMT, StmtDeleter>;
using Res = std::unique_ptr<MYSQL_RES, ResDeleter>;

// Output buffers of one result column.
struct OutColumn {
  Kind kind = Kind::kText;
  bool is_unsigned = false;
  int64_t i = 0;
  double d = 0;
  std::vector<char> buf;
  unsigned long length = 0;
  my_bool is_null = 0;
  my_bool error = 0;
};

class MysqlConnection final : public Connection {
 public:
  explicit MysqlConnection(Config config) : config_(std::move(config)) {}
  ~MysqlConnection() override { Close(); }
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;

  Status Connect() override {
    Close();
    InitLibrary();
    mysql_ = mysql_init(nullptr);
    if (mysql_ == nullptr) {
      return Internal("mysql_init: out of memory");
    }
    unsigned int timeout = 10;
    mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(mysql_, MYSQL_INIT_COMMAND, kInitCommand);
    unsigned port = config_.port == 0 ? 3306 : config_.port;
    const char* socket = config_.unix_socket.empty() ? nullptr : config_.unix_socket.c_str();
    // CLIENT_FOUND_ROWS: affected rows are the rows matched, as on the other dialects.
    if (mysql_real_connect(mysql_, config_.host.c_str(), config_.user.c_str(),
                           config_.password.c_str(), config_.dbname.c_str(), port, socket,
                           CLIENT_FOUND_ROWS) == nullptr) {
      Status s = Unavailable(
          "connect to mysql " +
          (socket != nullptr ? config_.unix_socket : config_.host + ":" + std::to_string(port)) +
          ": " + mysql_error(mysql_));
      Close();
      return s;
    }
    broken_ = false;
    return Status::Ok();
  }

  bool Healthy() override {
    return mysql_ != nullptr && !broken_ && !IdleSocketHasInput(mysql_get_socket(mysql_));
  }

  void MarkBroken() override { broken_ = true; }

  StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params) override {
    if (mysql_ == nullptr || broken_) {
      return Unavailable("mysql: connection lost");
    }
    last_insert_id_ = 0;
    while (!sql.empty() && (sql.back() == ';' || sql.back() == ' ' || sql.back() == '\n' ||
                            sql.back() == '\t' || sql.back() == '\r')) {
      sql.remove_suffix(1);  // a prepared statement is one statement, without terminator
    }
    Stmt stmt(mysql_stmt_init(mysql_));
    if (stmt == nullptr) {
      return ConnError();
    }
    if (mysql_stmt_prepare(stmt.get(), sql.data(), sql.size()) != 0) {
      if (mysql_stmt_errno(stmt.get()) == ER_UNSUPPORTED_PS && params.empty()) {
        return TextQuery(sql);
      }
      return StmtError(stmt.get());
    }
    unsigned long nparams = mysql_stmt_param_count(stmt.get());
    if (nparams != params.size()) {
      return InvalidArgument("statement has " + std::to_string(nparams) + " placeholders, got " +
                             std::to_string(params.size()) + " params");
    }
    std::vector<MYSQL_BIND> binds(params.size());
    std::vector<unsigned long> lengths(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      MYSQL_BIND& b = binds[i];
      const Value& v = params[i];
      // Input buffers are only read; the API is not const-correct.
      if (const auto* n = std::get_if<int64_t>(&v)) {
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = const_cast<int64_t*>(n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        b.buffer_type = MYSQL_TYPE_DOUBLE;
        b.buffer = const_cast<double*>(d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = const_cast<char*>(s->data());
        b.buffer_length = s->size();
        lengths[i] = s->size();
        b.length = &lengths[i];
      } else {
        b.buffer_type = MYSQL_TYPE_NULL;
      }
    }
    if ((!binds.empty() && mysql_stmt_bind_param(stmt.get(), binds.data()) != 0) ||
        mysql_stmt_execute(stmt.get()) != 0) {
      return StmtError(stmt.get());
    }
    Res meta(mysql_stmt_result_metadata(stmt.get()));
    if (meta == nullptr) {
      if (mysql_stmt_field_count(stmt.get()) != 0) {
        return StmtError(stmt.get());
      }
      Result result;
      result.affected_rows = static_cast<int64_t>(mysql_stmt_affected_rows(stmt.get()));
      last_insert_id_ = static_cast<int64_t>(mysql_stmt_insert_id(stmt.get()));
      return result;
    }
    return FetchRows(stmt.get(), meta.get());
  }

  StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params) override {
    DF_ASSIGN_OR_RETURN(Result r, Exec(sql, params));
    if (r.affected_rows == 0) {
      return NotFound("INSERT inserted no row");
    }
    return last_insert_id_;
  }

  Status Begin() override { return TextQuery("START TRANSACTION").status(); }
  Status Commit() override { return TextQuery("COMMIT").status(); }
  Status Rollback() override { return TextQuery("ROLLBACK").status(); }

 private:
  StatusOr<Result> FetchRows(MYSQL_STMT* stmt, MYSQL_RES* meta) {
    unsigned ncols = mysql_num_fields(meta);
    MYSQL_FIELD* fields = mysql_fetch_fields(meta);
    Result result;
    std::vector<OutColumn> cols(ncols);
    std::vector<MYSQL_BIND> binds(ncols);
    for (unsigned c = 0; c < ncols; ++c) {
      result.columns.emplace_back(fields[c].name);
      OutColumn& col = cols[c];
      MYSQL_BIND& b = binds[c];
      col.kind = KindOf(fields[c].type);
      col.is_unsigned = (fields[c].flags & UNSIGNED_FLAG) != 0;
      switch (col.kind) {
        case Kind::kInt:
          b.buffer_type = MYSQL_TYPE_LONGLONG;
          b.buffer = &col.i;
          b.is_unsigned = col.is_unsigned ? 1 : 0;
          break;
        case Kind::kDouble:
          b.buffer_type = MYSQL_TYPE_DOUBLE;
          b.buffer = &col.d;
          break;
        case Kind::kDecimal:
        case Kind::kText:
          col.buf.resize(kInitialTextBuffer);
          b.buffer_type = MYSQL_TYPE_STRING;
          b.buffer = col.buf.data();
          b.buffer_length = col.buf.size();
          break;
      }
      b.length = &col.length;
      b.is_null = &col.is_null;
      b.error = &col.error;
    }
    if (mysql_stmt_bind_result(stmt, binds.data()) != 0) {
      return StmtError(stmt);
    }
    while (true) {
      int rc = mysql_stmt_fetch(stmt);
      if (rc == MYSQL_NO_DATA) {
        break;
      }
      if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
        return StmtError(stmt);
      }
      Row& row = result.rows.emplace_back();
      row.cells.reserve(ncols);
      for (unsigned c = 0; c < ncols; ++c) {
        OutColumn& col = cols[c];
        if (col.is_null != 0) {
          row.cells.emplace_back(nullptr);
          continue;
        }
        switch (col.kind) {
          case Kind::kInt:
            if (col.is_unsigned && col.i < 0) {  // above INT64_MAX: keep the digits
              row.cells.emplace_back(std::to_string(static_cast<uint64_t>(col.i)));
            } else {
              row.cells.emplace_back(col.i);
            }
            break;
          case Kind::kDouble:
            row.cells.emplace_back(col.d);
            break;
          case Kind::kDecimal:
          case Kind::kText: {
            std::string text;
            if (col.length <= col.buf.size()) {
              text.assign(col.buf.data(), col.length);
            } else {  // longer than the buffer: fetch the whole cell
              text.resize(col.length);
              unsigned long got = 0;
              MYSQL_BIND b{};
              b.buffer_type = MYSQL_TYPE_STRING;
              b.buffer = text.data();
              b.buffer_length = text.size();
              b.length = &got;
              if (mysql_stmt_fetch_column(stmt, &b, c, 0) != 0) {
                return StmtError(stmt);
              }
            }
            if (col.kind == Kind::kDecimal) {
              row.cells.push_back(ParseDecimal(text));
            } else {
              row.cells.emplace_back(std::move(text));
            }
            break;
          }
        }
      }
    }
    return result;
  }

  // The text protocol, for statements without parameters.
  StatusOr<Result> TextQuery(std::string_view sql) {
    if (mysql_ == nullptr || broken_) {
      return Unavailable("mysql: connection lost");
    }
    if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
      return ConnError();
    }
    Result result;
    Res res(mysql_store_result(mysql_));
    if (res == nullptr) {
      if (mysql_field_count(mysql_) != 0) {
        return ConnError();
      }
      result.affected_rows = static_cast<int64_t>(mysql_affected_rows(mysql_));
      last_insert_id_ = static_cast<int64_t>(mysql_insert_id(mysql_));
      return result;
    }
    unsigned ncols = mysql_num_fields(res.get());
    MYSQL_FIELD* fields = mysql_fetch_fields(res.get());
    for (unsigned c = 0; c < ncols; ++c) {
      result.columns.emplace_back(fields[c].name);
    }
    while (MYSQL_ROW r = mysql_fetch_row(res.get())) {
      unsigned long* lengths = mysql_fetch_lengths(res.get());
      Row& row = result.rows.emplace_back();
      for (unsigned c = 0; c < ncols; ++c) {
        if (r[c] == nullptr) {
          row.cells.emplace_back(nullptr);
        } else {
          row.cells.push_back(TextCell(KindOf(fields[c].type), std::string_view(r[c], lengths[c])));
        }
      }
    }
    return result;
  }

  Status StmtError(MYSQL_STMT* stmt) {
    return Error(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt), mysql_stmt_error(stmt));
  }
  Status ConnError() {
    return Error(mysql_errno(mysql_), mysql_sqlstate(mysql_), mysql_error(mysql_));
  }

  Status Error(unsigned err, const char* sqlstate, const char* message) {
    std::string msg = std::string("mysql: ") + message + " [" + std::to_string(err) + "]";
    if (IsConnectionError(err)) {
      broken_ = true;
      return Unavailable(msg);
    }
    if (err == 2014) {  // CR_COMMANDS_OUT_OF_SYNC: the session's state is unknown
      broken_ = true;
      return Internal(msg);
    }
    if (sqlstate != nullptr && std::strncmp(sqlstate, "23", 2) == 0) {
      return {StatusCode::kAlreadyExists, msg};
    }
    if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT) {
      return Aborted(msg);
    }
    return Internal(msg);
  }

  void Close() {
    if (mysql_ != nullptr) {
      mysql_close(mysql_);
      mysql_ = nullptr;
    }
  }

  const Config config_;
  MYSQL* mysql_ = nullptr;
  bool broken_ = false;
  int64_t last_insert_id_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> OpenMysql(const Config& config) {
  auto conn = std::make_unique<MysqlConnection>(config);
  DF_RETURN_IF_ERROR(conn->Connect());
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace df::manager::db::internal
