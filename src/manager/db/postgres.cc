// PostgreSQL connection over libpq: `?` placeholders become $n, parameters travel as text with
// their types inferred by the server from the statement, and result cells are converted by
// column type (integers, floating point, numeric, boolean; everything else is text).
#include <libpq-fe.h>

#include <cctype>

#include "manager/db/connection.h"
#include "manager/db/sql.h"

namespace df::manager::db::internal {
namespace {

// Type OIDs (server/catalog/pg_type_d.h, not shipped with the client headers).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(Config config) : config_(std::move(config)) {}
  ~PostgresConnection() override { Close(); }
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Status Connect() override {
    Close();
    std::string host = config_.host;
    std::string port = std::to_string(config_.port == 0 ? 5432 : config_.port);
    if (!config_.unix_socket.empty()) {
      // libpq takes the socket's directory; accept the socket file's path too.
      host = config_.unix_socket;
      size_t slash = host.rfind('/');
      if (slash != std::string::npos && host.compare(slash + 1, 9, ".s.PGSQL.") == 0) {
        if (config_.port == 0) {
          port = host.substr(slash + 10);
        }
        host.resize(slash);
      }
    }
    const char* keys[] = {"host",
                          "port",
                          "user",
                          "password",
                          "dbname",
                          "connect_timeout",
                          "client_encoding",
                          "application_name",
                          nullptr};
    const char* values[] = {host.c_str(),
                            port.c_str(),
                            config_.user.c_str(),
                            config_.password.c_str(),
                            config_.dbname.c_str(),
                            "10",
                            "UTF8",
                            "dragonfly-manager",
                            nullptr};
    conn_ = PQconnectdbParams(keys, values, 0);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      Status s = Unavailable("connect to postgres " + host + ":" + port + ": " + ErrorMessage());
      Close();
      return s;
    }
    // Notices ("relation already exists, skipping", ...) are not errors; keep them off stderr.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    broken_ = false;
    return Status::Ok();
  }

  bool Healthy() override {
    return conn_ != nullptr && !broken_ && PQstatus(conn_) == CONNECTION_OK &&
           !IdleSocketHasInput(PQsocket(conn_));
  }

  void MarkBroken() override { broken_ = true; }

  StatusOr<Result> Exec(std::string_view sql, const std::vector<Value>& params) override {
    if (conn_ == nullptr || broken_) {
      return Unavailable("postgres: connection lost");
    }
    Translated t = TranslatePlaceholders(sql);
    if (t.count != params.size()) {
      return InvalidArgument("statement has " + std::to_string(t.count) + " placeholders, got " +
                             std::to_string(params.size()) + " params");
    }
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (const auto* n = std::get_if<int64_t>(&v)) {
        text[i] = std::to_string(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        text[i] = FormatDouble(*d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        if (s->find('\0') != std::string::npos) {
          return InvalidArgument("postgres: text parameter " + std::to_string(i + 1) +
                                 " contains a NUL byte");
        }
        text[i] = *s;
      } else {
        continue;  // NULL
      }
      values[i] = text[i].c_str();
    }
    PgResult res(PQexecParams(conn_, t.sql.c_str(), static_cast<int>(params.size()), nullptr,
                              values.data(), nullptr, nullptr, 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_EMPTY_QUERY) {
      return Result{};
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Error(res.get());
    }
    return Convert(res.get());
  }

  StatusOr<int64_t> Insert(std::string_view sql, const std::vector<Value>& params) override {
    std::string stmt(sql);
    if (!HasKeyword(sql, "RETURNING")) {
      while (!stmt.empty() &&
             (stmt.back() == ';' || std::isspace(static_cast<unsigned char>(stmt.back())) != 0)) {
        stmt.pop_back();
      }
      stmt += " RETURNING id";
    }
    DF_ASSIGN_OR_RETURN(Result r, Exec(stmt, params));
    if (r.rows.empty() || r.rows[0].cells.empty()) {
      return NotFound("INSERT inserted no row");
    }
    return r.rows[0].Int(0);
  }

  // COMMIT of a transaction in which a statement failed rolls back and still "succeeds":
  // report that as an error.
  Status Commit() override {
    DF_RETURN_IF_ERROR(ExecRaw("COMMIT").status());
    if (last_command_ != "COMMIT") {
      return Aborted("postgres: transaction rolled back (a statement in it failed)");
    }
    return Status::Ok();
  }

 private:
  StatusOr<Result> ExecRaw(const char* sql) {
    if (conn_ == nullptr || broken_) {
      return Unavailable("postgres: connection lost");
    }
    PgResult res(PQexec(conn_, sql));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      return Error(res.get());
    }
    return Convert(res.get());
  }

  StatusOr<Result> Convert(PGresult* res) {
    Result result;
    last_command_ = PQcmdStatus(res);
    int ncols = PQnfields(res);
    int nrows = PQntuples(res);
    result.columns.reserve(ncols);
    for (int c = 0; c < ncols; ++c) {
      result.columns.emplace_back(PQfname(res, c));
    }
    result.rows.resize(nrows);
    for (int r = 0; r < nrows; ++r) {
      Row& row = result.rows[r];
      row.cells.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.cells.emplace_back(nullptr);
          continue;
        }
        std::string_view text(PQgetvalue(res, r, c), PQgetlength(res, r, c));
        row.cells.push_back(Cell(PQftype(res, c), text));
      }
    }
    if (ncols == 0) {
      result.affected_rows = ParseInt(PQcmdTuples(res)).value_or(0);
    }
    return result;
  }

  static Value Cell(Oid type, std::string_view text) {
    switch (type) {
      case kInt8Oid:
      case kInt2Oid:
      case kInt4Oid:
      case kOidOid:
        if (auto n = ParseInt(text)) {
          return *n;
        }
        break;
      case kFloat4Oid:
      case kFloat8Oid:
        if (auto d = ParseDouble(text)) {
          return *d;
        }
        break;
      case kNumericOid:
        return ParseDecimal(text);
      case kBoolOid:
        return static_cast<int64_t>(text == "t" ? 1 : 0);
      default:
        break;
    }
    return std::string(text);
  }

  Status Error(PGresult* res) {
    std::string msg = "postgres: ";
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    msg += primary != nullptr ? primary : ErrorMessage();
    if (const char* detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : nullptr) {
      msg += std::string(" (") + detail + ")";
    }
    std::string_view code = state != nullptr ? state : "";
    // Connection gone, or the server is shutting it down (57P01..57P03: admin/crash shutdown,
    // cannot connect now): the session is lost either way.
    if (PQstatus(conn_) != CONNECTION_OK || code.starts_with("08") || code.starts_with("57P")) {
      broken_ = true;
      return Unavailable(msg);
    }
    if (code.starts_with("23")) {
      return {StatusCode::kAlreadyExists, msg};
    }
    if (code == "40001" || code == "40P01") {
      return Aborted(msg);
    }
    return Internal(msg + (code.empty() ? "" : " [" + std::string(code) + "]"));
  }

  std::string ErrorMessage() const {
    std::string m = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) {
      m.pop_back();
    }
    return m;
  }

  void Close() {
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
  }

  const Config config_;
  PGconn* conn_ = nullptr;
  bool broken_ = false;
  std::string last_command_;  // command tag of the last result
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> OpenPostgres(const Config& config) {
  auto conn = std::make_unique<PostgresConnection>(config);
  DF_RETURN_IF_ERROR(conn->Connect());
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace df::manager::db::internal
