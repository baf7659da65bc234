// The same cases against the three dialects: SQLite in a temp file, and real PostgreSQL and
// MariaDB servers started (once per test process, on first use) by test/e2e/databases.py. The
// script's stdin is a pipe held by this process: closing it, or this process dying, stops the
// server and removes its files. Without the server programs the cases are skipped.
#include "dragonfly/manager/db.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

extern char** environ;

namespace df::manager::db {

// Test names and messages say "postgres", not "4-byte object <01-00 00-00>".
void PrintTo(Dialect dialect, std::ostream* os) { *os << DialectName(dialect); }

namespace {

Status ToStatus(const Status& s) { return s; }
template <typename T>
Status ToStatus(const StatusOr<T>& s) {
  return s.status();
}

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const ::df::Status df_test_s_ = ToStatus(expr);        \
    ASSERT_TRUE(df_test_s_.ok()) << df_test_s_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                    \
  do {                                                     \
    const ::df::Status df_test_s_ = ToStatus(expr);        \
    EXPECT_TRUE(df_test_s_.ok()) << df_test_s_.ToString(); \
  } while (0)

constexpr int kSkipExitCode = 77;  // databases.py: server programs not installed
constexpr auto kServerStartTimeout = std::chrono::seconds(120);

// One `python3 databases.py postgres|mariadb` child and the server it runs.
class ServerProcess {
 public:
  ServerProcess(pid_t pid, int stdin_fd, Config config)
      : pid_(pid), stdin_fd_(stdin_fd), config_(std::move(config)) {}
  ~ServerProcess() {
    ::close(stdin_fd_);  // EOF: the script stops the server and cleans up
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const Config& config() const { return config_; }

  // nullptr with *skip or *error set when the server did not start.
  static std::unique_ptr<ServerProcess> Start(Dialect dialect, std::string* skip,
                                              std::string* error) {
    const char* kind = dialect == Dialect::kPostgres ? "postgres" : "mariadb";
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      *error = "pipe failed";
      return nullptr;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::string script = DF_DATABASES_PY;
    std::string python = "python3";
    std::string arg = kind;
    char* argv[] = {python.data(), script.data(), arg.data(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, "python3", &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      *skip = std::string("cannot run python3 for ") + script + ": " + std::strerror(rc);
      return nullptr;
    }
    std::string line = ReadLine(out[0]);
    ::close(out[0]);
    if (line.empty()) {
      ::close(in[1]);
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (WIFEXITED(status) && WEXITSTATUS(status) == kSkipExitCode) {
        *skip = std::string(kind) +
                " server programs are not installed (scripts/install-deps.sh installs them)";
      } else {
        *error = std::string(script) + " " + kind + " did not start (exit status " +
                 std::to_string(status) + "; its stderr is above)";
      }
      return nullptr;
    }
    auto j = nlohmann::json::parse(line, nullptr, false);
    Config config;
    config.dialect = dialect;
    if (!j.is_discarded()) {
      config.host = j.value("host", "");
      config.port = j.value("port", uint16_t{0});
      config.user = j.value("user", "");
      config.password = j.value("password", "");
      config.dbname = j.value("dbname", "");
    }
    auto proc = std::make_unique<ServerProcess>(pid, in[1], config);
    if (config.port == 0) {
      *error = "bad start line from " + script + ": " + line;
      return nullptr;
    }
    return proc;
  }

 private:
  static std::string ReadLine(int fd) {
    std::string buf;
    auto deadline = std::chrono::steady_clock::now() + kServerStartTimeout;
    while (buf.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return "";
      }
      char chunk[4096];
      ssize_t n = ::read(fd, chunk, sizeof(chunk));
      if (n <= 0) {
        return "";
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    return buf.substr(0, buf.find('\n'));
  }

  pid_t pid_;
  int stdin_fd_;
  Config config_;
};

// The servers of this test process: started on first use, stopped after the last test.
struct ServerSlot {
  std::once_flag once;
  std::unique_ptr<ServerProcess> proc;
  std::string skip;
  std::string error;
};

ServerSlot& Slot(Dialect dialect) {
  static ServerSlot slots[3];
  return slots[static_cast<int>(dialect)];
}

class ServersEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    Slot(Dialect::kPostgres).proc.reset();
    Slot(Dialect::kMysql).proc.reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kServers =
    ::testing::AddGlobalTestEnvironment(new ServersEnvironment);

class DbTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    config_.dialect = GetParam();
    if (GetParam() == Dialect::kSqlite) {
      char tmpl[] = "/tmp/df-manager-db-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      config_.sqlite_path = dir_ + "/manager.db";
      return;
    }
    ServerSlot& slot = Slot(GetParam());
    std::call_once(slot.once,
                   [&] { slot.proc = ServerProcess::Start(GetParam(), &slot.skip, &slot.error); });
    if (!slot.skip.empty()) {
      GTEST_SKIP() << slot.skip;
    }
    ASSERT_NE(slot.proc, nullptr) << slot.error;
    config_ = slot.proc->config();
    ResetDatabase();
  }

  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  // An empty database for each test, on the server shared by the tests of this process.
  void ResetDatabase() {
    auto db = Open(config_);
    ASSERT_OK(db);
    if (GetParam() == Dialect::kPostgres) {
      ASSERT_OK((*db)->Exec("DROP SCHEMA IF EXISTS public CASCADE"));
      ASSERT_OK((*db)->Exec("CREATE SCHEMA public"));
    } else {
      ASSERT_OK((*db)->Exec("DROP DATABASE IF EXISTS " + config_.dbname));
      ASSERT_OK((*db)->Exec("CREATE DATABASE " + config_.dbname +
                            " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"));
    }
  }

  std::unique_ptr<Database> OpenDb() {
    auto db = Open(config_);
    if (!db.ok()) {
      ADD_FAILURE() << "Open: " << db.status().ToString();
      return nullptr;
    }
    return std::move(db).value();
  }

  static int64_t Count(Database& db, const std::string& sql,
                       const std::vector<Value>& params = {}) {
    auto r = db.Exec(sql, params);
    if (!r.ok() || r->rows.size() != 1) {
      ADD_FAILURE() << sql << ": " << r.status().ToString();
      return -1;
    }
    return r->rows[0].Int(0);
  }

  // The server's id of db's session, and a way to end it from another session.
  int64_t SessionId(Database& db) {
    return Count(db, GetParam() == Dialect::kPostgres ? "SELECT pg_backend_pid()"
                                                      : "SELECT CONNECTION_ID()");
  }

  void KillSession(Database& killer, int64_t id) {
    if (GetParam() == Dialect::kPostgres) {
      ASSERT_OK(killer.Exec("SELECT pg_terminate_backend(?)", {id}));
    } else {
      ASSERT_OK(killer.Exec("KILL CONNECTION " + std::to_string(id)));
    }
    // Until the server has closed it (pg_terminate_backend only signals the backend).
    std::string gone = GetParam() == Dialect::kPostgres
                           ? "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ?"
                           : "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (Count(killer, gone, {id}) != 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "session " << id << " still there";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  Config config_;
  std::string dir_;
};

TEST_P(DbTest, ValuesRoundTrip) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_OK(Migrate(*db, {{1, "vals",
                           "CREATE TABLE vals (id {{ID}}, i {{BIGINT}}, r DOUBLE PRECISION, "
                           "s {{TEXT}}, v VARCHAR(255))"}}));
  struct Case {
    int64_t i;
    double r;
    std::string s;
  };
  const std::vector<Case> cases = {
      {0, 0.0, ""},
      {std::numeric_limits<int64_t>::max(), 0.1,
       "it's a \"quoted\" 'text' with ? and ?? and $1 and \\ and \\' and ; and --"},
      {std::numeric_limits<int64_t>::min(), -2.5e300, "unicode: 日本語 ☃ é 🐉"},
      {42, 1e-300, "?"},
      {-7, 123456.789, std::string(100000, 'x') + "end"},  // longer than any first buffer
  };
  for (const Case& c : cases) {
    std::string v = c.s.substr(0, 100);
    auto id = db->Insert("INSERT INTO vals (i, r, s, v) VALUES (?, ?, ?, ?)", {c.i, c.r, c.s, v});
    ASSERT_OK(id);
  }
  ASSERT_OK(db->Insert("INSERT INTO vals (i, r, s, v) VALUES (?, ?, ?, ?)",
                       {nullptr, nullptr, nullptr, nullptr}));

  auto r = db->Exec("SELECT id, i, r, s, v FROM vals ORDER BY id");
  ASSERT_OK(r);
  EXPECT_EQ(r->columns, (std::vector<std::string>{"id", "i", "r", "s", "v"}));
  EXPECT_EQ(r->affected_rows, 0);
  ASSERT_EQ(r->rows.size(), cases.size() + 1);
  for (size_t k = 0; k < cases.size(); ++k) {
    const Row& row = r->rows[k];
    ASSERT_EQ(row.cells.size(), 5u);
    ASSERT_TRUE(std::holds_alternative<int64_t>(row.cells[1])) << k;
    EXPECT_EQ(std::get<int64_t>(row.cells[1]), cases[k].i);
    ASSERT_TRUE(std::holds_alternative<double>(row.cells[2])) << k;
    EXPECT_EQ(std::get<double>(row.cells[2]), cases[k].r);
    ASSERT_TRUE(std::holds_alternative<std::string>(row.cells[3])) << k;
    EXPECT_EQ(std::get<std::string>(row.cells[3]), cases[k].s);
    EXPECT_EQ(row.Text(4), cases[k].s.substr(0, 100));
    EXPECT_EQ(row.Int(1), cases[k].i);
  }
  const Row& nulls = r->rows.back();
  for (size_t c = 1; c < 5; ++c) {
    EXPECT_TRUE(nulls.IsNull(c)) << c;
    EXPECT_EQ(nulls.Int(c), 0);
    EXPECT_EQ(nulls.Text(c), "");
  }

  // Every Value type as a parameter of a WHERE clause.
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM vals WHERE i = ? AND s = ?",
                  {std::numeric_limits<int64_t>::min(), cases[2].s}),
            1);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM vals WHERE r = ?", {0.1}), 1);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM vals WHERE i IS NULL"), 1);
  auto n = db->Exec("SELECT COUNT(*) AS n, SUM(i) AS total FROM vals WHERE i BETWEEN ? AND ?",
                    {int64_t{-10}, int64_t{100}});
  ASSERT_OK(n);
  ASSERT_TRUE(std::holds_alternative<int64_t>(n->rows[0].cells[0]));
  EXPECT_EQ(n->rows[0].Int(0), 3);
  EXPECT_EQ(n->rows[0].Int(1), 35);  // SUM is NUMERIC/DECIMAL on some: still an integer
  EXPECT_EQ(n->rows[0].Text(1), "35");
}

TEST_P(DbTest, PlaceholdersAreNotReadInsideLiteralsOrComments) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto r = db->Exec("SELECT 'what?' AS a, ? AS b, 'it''s ?' /* ? */ AS c, ? AS d",
                    {std::string("x?"), int64_t{7}});
  ASSERT_OK(r);
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].Text(0), "what?");
  EXPECT_EQ(r->rows[0].Text(1), "x?");
  EXPECT_EQ(r->rows[0].Text(2), "it's ?");
  EXPECT_EQ(r->rows[0].Int(3), 7);

  EXPECT_EQ(db->Exec("SELECT ?").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Exec("SELECT 1", {int64_t{1}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db->Exec("SELECT '?'", {int64_t{1}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(db->Exec("SELECT 1; SELECT 2").ok());
  EXPECT_OK(db->Exec("SELECT 1"));  // still usable
}

TEST_P(DbTest, InsertReturnsIds) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_OK(Migrate(
      *db, {{1, "items", "CREATE TABLE items (id {{ID}}, name VARCHAR(100) NOT NULL UNIQUE)"}}));
  auto a = db->Insert("INSERT INTO items (name) VALUES (?)", {std::string("a")});
  auto b = db->Insert("INSERT INTO items (name) VALUES (?);", {std::string("b")});
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_GE(*a, 1);
  EXPECT_GT(*b, *a);
  EXPECT_EQ(Count(*db, "SELECT id FROM items WHERE name = ?", {std::string("b")}), *b);
  auto upd = db->Exec("UPDATE items SET name = name || '!' WHERE id >= ?", {*a});
  ASSERT_OK(upd);
  EXPECT_EQ(upd->affected_rows, 2);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM items WHERE name = 'a!'"), 1);
  auto del = db->Exec("DELETE FROM items WHERE id = ?", {*a});
  ASSERT_OK(del);
  EXPECT_EQ(del->affected_rows, 1);
}

TEST_P(DbTest, ConstraintViolationsAreAlreadyExists) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_OK(Migrate(*db, {{1, "items",
                           "CREATE TABLE items (id {{ID}}, name VARCHAR(100) NOT NULL UNIQUE);\n"
                           "CREATE TABLE tags (id {{ID}}, item_id BIGINT NOT NULL, "
                           "tag VARCHAR(100) NOT NULL,\n"
                           "  FOREIGN KEY (item_id) REFERENCES items (id))"}}));
  auto a = db->Insert("INSERT INTO items (name) VALUES (?)", {std::string("a")});
  ASSERT_OK(a);
  auto dup = db->Insert("INSERT INTO items (name) VALUES (?)", {std::string("a")});
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists) << dup.status().ToString();
  auto null = db->Exec("INSERT INTO items (name) VALUES (?)", {nullptr});
  EXPECT_EQ(null.status().code(), StatusCode::kAlreadyExists) << null.status().ToString();
  auto orphan =
      db->Exec("INSERT INTO tags (item_id, tag) VALUES (?, ?)", {*a + 1000, std::string("t")});
  EXPECT_EQ(orphan.status().code(), StatusCode::kAlreadyExists) << orphan.status().ToString();
  EXPECT_OK(db->Exec("INSERT INTO tags (item_id, tag) VALUES (?, ?)", {*a, std::string("t")}));

  EXPECT_EQ(db->Exec("SELEKT 1").status().code(), StatusCode::kInternal);
  EXPECT_EQ(db->Exec("SELECT * FROM missing").status().code(), StatusCode::kInternal);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM items"), 1);  // the connection is fine
}

TEST_P(DbTest, TransactionCommitsOrRollsBack) {
  auto db = OpenDb();
  auto other = OpenDb();
  ASSERT_TRUE(db && other);
  ASSERT_OK(Migrate(
      *db, {{1, "items", "CREATE TABLE items (id {{ID}}, name VARCHAR(100) NOT NULL UNIQUE)"}}));
  auto insert = [](Database& tx, const char* name) {
    return tx.Insert("INSERT INTO items (name) VALUES (?)", {std::string(name)}).status();
  };

  EXPECT_OK(db->Transaction([&](Database& tx) -> Status {
    DF_RETURN_IF_ERROR(insert(tx, "a"));
    return insert(tx, "b");
  }));
  EXPECT_EQ(Count(*other, "SELECT COUNT(*) FROM items"), 2);

  Status s = db->Transaction([&](Database& tx) -> Status {
    DF_RETURN_IF_ERROR(insert(tx, "c"));
    return Aborted("changed my mind");
  });
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(), "changed my mind");

  s = db->Transaction([&](Database& tx) -> Status {
    DF_RETURN_IF_ERROR(insert(tx, "d"));
    return insert(tx, "a");  // duplicate
  });
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
  EXPECT_EQ(Count(*other, "SELECT COUNT(*) FROM items"), 2);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM items WHERE name IN ('c', 'd')"), 0);

  if (GetParam() == Dialect::kPostgres) {
    // A failed statement aborts the whole transaction there: COMMIT reports it even when fn
    // ignored the error.
    s = db->Transaction([&](Database& tx) -> Status {
      (void)insert(tx, "a");
      return Status::Ok();
    });
    EXPECT_EQ(s.code(), StatusCode::kAborted) << s.ToString();
  }

  // Not re-entrant, and no deadlock when fn calls the Database instead of tx.
  s = db->Transaction([&](Database& tx) -> Status {
    EXPECT_EQ(tx.Transaction([](Database&) { return Status::Ok(); }).code(),
              StatusCode::kFailedPrecondition);
    EXPECT_EQ(db->Exec("SELECT 1").status().code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(db->Transaction([](Database&) { return Status::Ok(); }).code(),
              StatusCode::kFailedPrecondition);
    return insert(tx, "e");
  });
  EXPECT_OK(s);
  EXPECT_EQ(Count(*other, "SELECT COUNT(*) FROM items"), 3);
}

std::vector<Migration> LogMigrations(int upto) {
  std::vector<Migration> out;
  out.push_back({1, "log",
                 "CREATE TABLE log (version {{BIGINT}} NOT NULL, note {{TEXT}});\n"
                 "INSERT INTO log (version, note) VALUES (1, 'it''s; v1')"});
  for (int v = 2; v <= upto; ++v) {
    std::string table = "t" + std::to_string(v);
    out.push_back({v, table,
                   "CREATE TABLE " + table + " (id {{ID}}, name VARCHAR(255) NOT NULL UNIQUE);\n" +
                       "INSERT INTO log (version) VALUES (" + std::to_string(v) + ")"});
  }
  return out;
}

TEST_P(DbTest, MigrateAppliesEachVersionOnce) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  auto migrations = LogMigrations(2);
  std::swap(migrations[0], migrations[1]);  // order of the list does not matter
  ASSERT_OK(Migrate(*db, migrations));
  ASSERT_OK(Migrate(*db, migrations));  // idempotent
  auto r = db->Exec("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
  ASSERT_OK(r);
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->rows[0].Int(0), 1);
  EXPECT_EQ(r->rows[0].Text(1), "log");
  EXPECT_GT(r->rows[0].Int(2), 1600000000000);  // milliseconds
  EXPECT_EQ(r->rows[1].Int(0), 2);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM log"), 2);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM log WHERE note = ?", {std::string("it's; v1")}), 1);

  ASSERT_OK(Migrate(*db, LogMigrations(3)));  // only v3 is new
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM log"), 3);
  EXPECT_EQ(Count(*db, "SELECT MAX(version) FROM schema_migrations"), 3);

  // A failing migration is not recorded, and its DML is rolled back (everywhere: no DDL).
  auto bad = LogMigrations(3);
  bad.push_back({4, "bad", "INSERT INTO log (version) VALUES (4);\nINSERT INTO nope VALUES (1)"});
  Status s = Migrate(*db, bad);
  EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_NE(s.message().find("migration 4 (bad)"), std::string::npos) << s.ToString();
  EXPECT_EQ(Count(*db, "SELECT MAX(version) FROM schema_migrations"), 3);
  EXPECT_EQ(Count(*db, "SELECT COUNT(*) FROM log WHERE version = 4"), 0);

  // Bad lists are rejected before anything runs.
  auto dup = LogMigrations(3);
  dup.push_back({5, "x", "INSERT INTO log (version) VALUES (5)"});
  dup.push_back({5, "y", "INSERT INTO log (version) VALUES (5)"});
  EXPECT_EQ(Migrate(*db, dup).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Migrate(*db, {{0, "zero", "SELECT 1"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Migrate(*db, {{6, "token", "CREATE TABLE z (x {{BLOB}})"}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(*db, "SELECT MAX(version) FROM schema_migrations"), 3);
}

TEST_P(DbTest, ConcurrentMigrateAppliesEachVersionOnce) {
  auto a = OpenDb();
  auto b = OpenDb();
  ASSERT_TRUE(a && b);
  for (int upto : {3, 6, 9}) {  // both managers start together, three times
    std::latch start(2);
    Status sa;
    Status sb;
    auto run = [&](Database& db, Status* out) {
      start.arrive_and_wait();
      *out = Migrate(db, LogMigrations(upto));
    };
    std::thread ta(run, std::ref(*a), &sa);
    std::thread tb(run, std::ref(*b), &sb);
    ta.join();
    tb.join();
    ASSERT_OK(sa);
    ASSERT_OK(sb);
    auto r = a->Exec("SELECT version, COUNT(*) FROM log GROUP BY version ORDER BY version");
    ASSERT_OK(r);
    ASSERT_EQ(r->rows.size(), static_cast<size_t>(upto));
    for (int v = 1; v <= upto; ++v) {
      EXPECT_EQ(r->rows[v - 1].Int(0), v);
      EXPECT_EQ(r->rows[v - 1].Int(1), 1) << "version " << v << " applied more than once";
    }
    EXPECT_EQ(Count(*b, "SELECT COUNT(*) FROM schema_migrations"), upto);
  }
}

TEST_P(DbTest, AtomicClaimHasExactlyOneWinner) {
  auto db = OpenDb();
  ASSERT_TRUE(db);
  ASSERT_OK(Migrate(*db, {{1, "jobs", "CREATE TABLE jobs (id {{ID}}, owner VARCHAR(64))"}}));
  constexpr int kJobs = 40;
  std::vector<int64_t> ids;
  for (int i = 0; i < kJobs; ++i) {
    auto id = db->Insert("INSERT INTO jobs (owner) VALUES (?)", {nullptr});
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  auto a = OpenDb();
  auto b = OpenDb();
  ASSERT_TRUE(a && b);
  std::latch start(2);
  std::map<std::string, std::set<int64_t>> won;
  auto claim = [&](Database& conn, const std::string& name, std::set<int64_t>* mine) {
    start.arrive_and_wait();
    for (int64_t id : ids) {
      auto r = conn.Exec("UPDATE jobs SET owner = ? WHERE id = ? AND owner IS NULL", {name, id});
      EXPECT_OK(r);
      if (r.ok()) {
        EXPECT_TRUE(r->affected_rows == 0 || r->affected_rows == 1) << r->affected_rows;
        if (r->affected_rows == 1) {
          mine->insert(id);
        }
      }
    }
  };
  std::thread ta(claim, std::ref(*a), "a", &won["a"]);
  std::thread tb(claim, std::ref(*b), "b", &won["b"]);
  ta.join();
  tb.join();
  EXPECT_EQ(won["a"].size() + won["b"].size(), static_cast<size_t>(kJobs));
  for (int64_t id : ids) {
    auto r = db->Exec("SELECT owner FROM jobs WHERE id = ?", {id});
    ASSERT_OK(r);
    ASSERT_EQ(r->rows.size(), 1u);
    std::string owner = r->rows[0].Text(0);
    EXPECT_TRUE(won[owner].count(id) == 1 && won[owner == "a" ? "b" : "a"].count(id) == 0)
        << "job " << id << " owner " << owner;
  }
  // Affected rows count matched rows, also when nothing changes (MySQL: CLIENT_FOUND_ROWS).
  auto same = db->Exec("UPDATE jobs SET owner = owner WHERE id = ?", {ids[0]});
  ASSERT_OK(same);
  EXPECT_EQ(same->affected_rows, 1);
}

TEST_P(DbTest, ReconnectsAfterTheServerDropsTheConnection) {
  if (GetParam() == Dialect::kSqlite) {
    GTEST_SKIP() << "no connection to lose";
  }
  auto db = OpenDb();
  auto killer = OpenDb();
  ASSERT_TRUE(db && killer);
  int64_t first = SessionId(*db);
  ASSERT_GT(first, 0);
  KillSession(*killer, first);
  auto r = db->Exec("SELECT 1");  // finds the connection closed and reconnects first
  ASSERT_OK(r);
  int64_t second = SessionId(*db);
  EXPECT_NE(second, first);

  // Lost inside a transaction: the transaction fails (no silent reconnect in the middle of
  // it), the next call gets a new connection.
  Status s = db->Transaction([&](Database& tx) -> Status {
    KillSession(*killer, second);
    return tx.Exec("SELECT 1").status();
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_OK(db->Exec("SELECT 1"));
  EXPECT_NE(SessionId(*db), second);
}

TEST_P(DbTest, OpenFailsWhenUnreachable) {
  Config bad = config_;
  if (GetParam() == Dialect::kSqlite) {
    bad.sqlite_path = "/dev/null/manager.db";
  } else {
    bad.password = "wrong";
  }
  auto db = Open(bad);
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable) << db.status().ToString();
}

INSTANTIATE_TEST_SUITE_P(Dialects, DbTest,
                         ::testing::Values(Dialect::kSqlite, Dialect::kPostgres, Dialect::kMysql),
                         [](const ::testing::TestParamInfo<Dialect>& p) {
                           return std::string(DialectName(p.param));
                         });

TEST(RowTest, LenientAccessors) {
  Row row{{nullptr, int64_t{-3}, 1e300, -1e300, std::nan(""), std::string("12"), std::string("2.5"),
           std::string("abc"), 0.1}};
  EXPECT_TRUE(row.IsNull(0));
  EXPECT_EQ(row.Int(0), 0);
  EXPECT_EQ(row.Text(0), "");
  EXPECT_EQ(row.Int(1), -3);
  EXPECT_EQ(row.Text(1), "-3");
  EXPECT_EQ(row.Int(2), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(row.Int(3), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(row.Int(4), 0);
  EXPECT_EQ(row.Int(5), 12);
  EXPECT_EQ(row.Int(6), 2);
  EXPECT_EQ(row.Int(7), 0);
  EXPECT_EQ(row.Text(8), "0.1");
}

TEST(SqliteTest, WalForeignKeysAndBusyTimeout) {
  char tmpl[] = "/tmp/df-manager-db-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  {
    Config config;
    config.sqlite_path = dir + "/sub/manager.db";  // parent directories are created
    auto db = Open(config);
    ASSERT_OK(db);
    auto mode = (*db)->Exec("PRAGMA journal_mode");
    ASSERT_OK(mode);
    EXPECT_EQ(mode->rows.at(0).Text(0), "wal");
    auto fk = (*db)->Exec("PRAGMA foreign_keys");
    ASSERT_OK(fk);
    EXPECT_EQ(fk->rows.at(0).Int(0), 1);
    auto busy = (*db)->Exec("PRAGMA busy_timeout");
    ASSERT_OK(busy);
    EXPECT_GE(busy->rows.at(0).Int(0), 1000);
    // The JWT key and password hashes live here: the manager's user only.
    namespace fs = std::filesystem;
    ASSERT_OK((*db)->Exec("CREATE TABLE t (x INTEGER)"));
    for (const char* f : {"/sub/manager.db", "/sub/manager.db-wal"}) {
      EXPECT_EQ(fs::status(dir + f).permissions() & fs::perms::all,
                fs::perms::owner_read | fs::perms::owner_write)
          << f;
    }
    EXPECT_EQ(fs::status(dir + "/sub").permissions() & fs::perms::all, fs::perms::owner_all);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace df::manager::db
