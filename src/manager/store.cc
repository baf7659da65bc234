#include "manager/store.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "dragonfly/manager/auth.h"
#include "manager/schema.h"

namespace df::manager {
namespace {

using db::Value;

constexpr char kUserCols[] = "id, name, email, password_hash, role, state";
constexpr char kTokenCols[] = "id, name, scopes, state, expired_at, user_id";
constexpr char kClusterCols[] =
    "id, name, bio, scopes, config, config_version, is_default, created_at, updated_at";
constexpr char kComponentCols[] =
    "id, type, hostname, ip, port, piece_port, idc, location, state, cluster_id, "
    "last_keepalive_at, version, git_commit";
constexpr char kJobCols[] =
    "id, task_id, bio, type, state, args, result, user_id, scheduler_cluster_ids, harbor_key, "
    "created_at, updated_at, owner, attempts";

// JSON text for a column. Bytes that are not UTF-8 (from a registry's or a peer's error text)
// become U+FFFD instead of throwing.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json ParseJson(const std::string& s, json fallback) {
  if (s.empty()) {
    return fallback;
  }
  try {
    return json::parse(s);
  } catch (const json::exception&) {
    return fallback;
  }
}

UserRow ToUser(const db::Row& r) {
  return {r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5)};
}

TokenRow ToToken(const db::Row& r) {
  TokenRow t{r.Int(0), r.Text(1), {}, r.Text(3), r.Int(4), r.Int(5)};
  for (const auto& s : ParseJson(r.Text(2), json::array())) {
    t.scopes.push_back(s.get<std::string>());
  }
  return t;
}

ClusterRow ToCluster(const db::Row& r) {
  ClusterRow c;
  c.id = r.Int(0);
  c.name = r.Text(1);
  c.bio = r.Text(2);
  // Rows written before a field was checked may not pass today's checks: what cannot be read is
  // left out (and said), the rest of the cluster still works.
  if (auto s = ClusterScopes::FromJson(ParseJson(r.Text(3), json::object())); s.ok()) {
    c.scopes = std::move(s).value();
  } else {
    spdlog::warn("cluster {}: stored scopes ignored: {}", c.id, s.status().message());
  }
  if (auto cfg = ClusterConfig::FromJson(ParseJson(r.Text(4), json::object()), "config");
      cfg.ok()) {
    c.config = std::move(cfg).value();
  } else {
    spdlog::warn("cluster {}: stored config ignored: {}", c.id, cfg.status().message());
  }
  c.config_version = r.Int(5);
  c.is_default = r.Int(6) != 0;
  c.created_at = r.Int(7);
  c.updated_at = r.Int(8);
  return c;
}

ComponentRow ToComponent(const db::Row& r) {
  ComponentRow c;
  c.id = r.Int(0);
  c.type = r.Text(1);
  c.hostname = r.Text(2);
  c.ip = r.Text(3);
  c.port = static_cast<int>(r.Int(4));
  c.piece_port = static_cast<int>(r.Int(5));
  c.idc = r.Text(6);
  c.location = r.Text(7);
  c.state = r.Text(8);
  c.cluster_id = r.Int(9);
  c.last_keepalive_at = r.Int(10);
  c.version = r.Text(11);
  c.git_commit = r.Text(12);
  return c;
}

JobRow ToJob(const db::Row& r) {
  JobRow j;
  j.id = r.Int(0);
  j.task_id = r.Text(1);
  j.bio = r.Text(2);
  j.type = r.Text(3);
  j.state = r.Text(4);
  j.args = ParseJson(r.Text(5), json::object());
  j.result = ParseJson(r.Text(6), json::object());
  j.user_id = r.Int(7);
  for (const auto& id : ParseJson(r.Text(8), json::array())) {
    j.scheduler_cluster_ids.push_back(id.get<int64_t>());
  }
  j.harbor_key = r.Text(9);
  j.created_at = r.Int(10);
  j.updated_at = r.Int(11);
  j.owner = r.Text(12);
  j.attempts = r.Int(13);
  return j;
}

std::string NewGroupId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof(b));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof(out),
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return std::string("group_") + out;
}

template <typename T, typename F>
StatusOr<T> One(StatusOr<db::Result> r, const std::string& what, F convert) {
  if (!r.ok()) {
    return r.status();
  }
  if (r->rows.empty()) {
    return NotFound(what + " not found");
  }
  return convert(r->rows[0]);
}

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rfc3339(int64_t ms) {
  time_t s = ms / 1000;
  tm t{};
  gmtime_r(&s, &t);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

StatusOr<int64_t> ParseRfc3339(const std::string& s) {
  tm t{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
  if (end == nullptr) {
    return InvalidArgument("bad time '" + s + "': want RFC 3339 (2026-01-02T15:04:05Z)");
  }
  int64_t secs = timegm(&t);
  if (*end == '.') {
    ++end;
    while (std::isdigit(static_cast<unsigned char>(*end))) {
      ++end;
    }
  }
  if (*end == 'Z' || *end == 'z') {
    ++end;
  } else if (*end == '+' || *end == '-') {
    int hh = 0;
    int mm = 0;
    if (std::sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2) {
      return InvalidArgument("bad time zone in '" + s + "'");
    }
    secs -= (*end == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    end += 6;
  }
  if (*end != '\0') {
    return InvalidArgument("bad time '" + s + "': want RFC 3339 (2026-01-02T15:04:05Z)");
  }
  return secs * 1000;
}

json FailedJobResult(const std::string& group_uuid, const std::string& task_name,
                     const std::string& error) {
  std::string now = Rfc3339(NowMs());
  return {{"group_uuid", group_uuid},
          {"state", "FAILURE"},
          {"job_states", json::array({{{"task_uuid", group_uuid + "_0"},
                                       {"task_name", task_name},
                                       {"state", "FAILURE"},
                                       {"results", json::array()},
                                       {"error", error},
                                       {"created_at", now},
                                       {"ttl", 0}}})},
          {"updated_at", now}};
}

json UserRow::ToJson() const {
  return {{"id", id}, {"name", name}, {"email", email}, {"role", role}, {"state", state}};
}

json ComponentRow::ToJson() const {
  json j = {{"id", id},           {"host_name", hostname},
            {"ip", ip},           {"port", port},
            {"idc", idc},         {"location", location},
            {"state", state},     {"updated_at", Rfc3339(last_keepalive_at)},
            {"version", version}, {"git_commit", git_commit}};
  if (type == "scheduler") {
    j["scheduler_cluster_id"] = cluster_id;
    j["features"] = json::array({"schedule", "preheat"});
  } else if (type == "seed_peer") {
    j["seed_peer_cluster_id"] = cluster_id;
    j["download_port"] = piece_port;
    j["type"] = "super";
  } else {  // a peer: the scheduler cluster the manager chose for it (0: none matched)
    j["scheduler_cluster_id"] = cluster_id;
    j["download_port"] = piece_port;
    j["type"] = "normal";
  }
  return j;
}

json ClusterRow::ToJson() const {
  return {{"id", id},
          {"name", name},
          {"bio", bio},
          {"scopes", scopes.ToJson()},
          {"scheduler_cluster_id", id},
          {"seed_peer_cluster_id", id},
          {"scheduler_cluster_config", config.ToJson()},
          {"config_version", config_version},
          {"is_default", is_default},
          {"created_at", Rfc3339(created_at)},
          {"updated_at", Rfc3339(updated_at)}};
}

json JobRow::ToJson() const {
  json clusters = json::array();
  for (int64_t cid : scheduler_cluster_ids) {
    clusters.push_back({{"id", cid}});
  }
  return {{"id", id},
          {"created_at", Rfc3339(created_at)},
          {"updated_at", Rfc3339(updated_at)},
          {"is_del", 0},
          {"task_id", task_id},
          {"bio", bio},
          {"type", type},
          {"state", state},
          {"args", args},
          {"result", result},
          {"user_id", user_id},
          {"scheduler_clusters", clusters},
          {"seed_peer_clusters", json::array()}};
}

Status Store::Bootstrap(const std::string& root_password, std::string* jwt_key,
                        std::string* generated_root_password) {
  DF_RETURN_IF_ERROR(db::Migrate(*db_, Migrations()));
  int64_t now = NowMs();
  // Concurrent replicas: the unique keys make every insert here happen once.
  auto key = db_->Exec("SELECT value FROM settings WHERE name = ?", {std::string("jwt_key")});
  if (!key.ok()) {
    return key.status();
  }
  if (key->rows.empty()) {
    auto s = db_->Exec("INSERT INTO settings (name, value) VALUES (?, ?)",
                       {std::string("jwt_key"), auth::RandomToken(48)});
    if (!s.ok() && s.status().code() != StatusCode::kAlreadyExists) {
      return s.status();
    }
    key = db_->Exec("SELECT value FROM settings WHERE name = ?", {std::string("jwt_key")});
    if (!key.ok() || key->rows.empty()) {
      return Internal("cannot read the JWT key");
    }
  }
  *jwt_key = key->rows[0].Text(0);
  auto clusters = db_->Exec("SELECT COUNT(*) FROM clusters");
  if (!clusters.ok()) {
    return clusters.status();
  }
  if (clusters->rows[0].Int(0) == 0) {
    auto s = db_->Insert(
        "INSERT INTO clusters (name, bio, scopes, config, config_version, is_default, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 1, 1, ?, ?)",
        {std::string("cluster-1"), std::string("default cluster"), std::string("{}"),
         json{{"candidate_parent_limit", 4}, {"filter_parent_limit", 15}}.dump(), now, now});
    if (!s.ok() && s.status().code() != StatusCode::kAlreadyExists) {
      return s.status();
    }
  }
  auto root = db_->Exec("SELECT id FROM users WHERE name = ?", {std::string("root")});
  if (!root.ok()) {
    return root.status();
  }
  if (root->rows.empty()) {
    // No known default: without a configured password root gets a random one, which the
    // caller hands to the operator (only if this replica's insert is the one that happened).
    if (root_password.empty() && generated_root_password == nullptr) {
      return FailedPrecondition(
          "set auth.rootPassword: the first start needs the root user's initial password");
    }
    std::string pw = root_password.empty() ? auth::RandomToken(18) : root_password;
    auto u = CreateUser("root", "", pw, "root");
    if (!u.ok() && u.status().code() != StatusCode::kAlreadyExists) {
      return u.status();
    }
    if (u.ok() && root_password.empty() && generated_root_password != nullptr) {
      *generated_root_password = pw;
    }
  }
  return Status::Ok();
}

StatusOr<UserRow> Store::CreateUser(const std::string& name, const std::string& email,
                                    const std::string& password, const std::string& role) {
  DF_ASSIGN_OR_RETURN(std::string hash, auth::HashPassword(password));
  int64_t now = NowMs();
  auto id = db_->Insert(
      "INSERT INTO users (name, email, password_hash, role, state, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, 'enable', ?, ?)",
      {name, email, hash, role, now, now});
  if (!id.ok()) {
    return id.status().code() == StatusCode::kAlreadyExists
               ? Status(StatusCode::kAlreadyExists, "user " + name + " already exists")
               : id.status();
  }
  return UserRow{*id, name, email, hash, role, "enable"};
}

StatusOr<UserRow> Store::GetUser(int64_t id) {
  return One<UserRow>(
      db_->Exec(std::string("SELECT ") + kUserCols + " FROM users WHERE id = ?", {id}), "user",
      ToUser);
}

StatusOr<UserRow> Store::GetUserByName(const std::string& name) {
  return One<UserRow>(
      db_->Exec(std::string("SELECT ") + kUserCols + " FROM users WHERE name = ?", {name}), "user",
      ToUser);
}

StatusOr<std::vector<UserRow>> Store::ListUsers() {
  DF_ASSIGN_OR_RETURN(auto r,
                      db_->Exec(std::string("SELECT ") + kUserCols + " FROM users ORDER BY id"));
  std::vector<UserRow> out;
  for (const auto& row : r.rows) {
    out.push_back(ToUser(row));
  }
  return out;
}

Status Store::UpdateUser(int64_t id, const UserPatch& patch) {
  return db_->Transaction([&](db::Database& tx) -> Status {
    DF_ASSIGN_OR_RETURN(
        auto cur,
        One<UserRow>(tx.Exec(std::string("SELECT ") + kUserCols + " FROM users WHERE id = ?", {id}),
                     "user", ToUser));
    if (patch.TakesRootAway() && cur.role == "root" && cur.state == "enable") {
      DF_ASSIGN_OR_RETURN(auto others, tx.Exec("SELECT COUNT(*) FROM users WHERE role = 'root' AND "
                                               "state = 'enable' AND id <> ?",
                                               {id}));
      if (others.rows.empty() || others.rows[0].Int(0) == 0) {
        return FailedPrecondition("the last enabled root user cannot be demoted or disabled");
      }
    }
    return tx
        .Exec("UPDATE users SET email = ?, state = ?, role = ?, updated_at = ? WHERE id = ?",
              {patch.email.value_or(cur.email), patch.state.value_or(cur.state),
               patch.role.value_or(cur.role), NowMs(), id})
        .status();
  });
}

Status Store::SetPassword(int64_t id, const std::string& password) {
  DF_ASSIGN_OR_RETURN(std::string hash, auth::HashPassword(password));
  return db_
      ->Exec("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", {hash, NowMs(), id})
      .status();
}

StatusOr<TokenRow> Store::CreateToken(const std::string& name, const std::string& bio,
                                      const std::vector<std::string>& scopes, int64_t expired_at,
                                      int64_t user_id, std::string* plaintext) {
  *plaintext = "dfp_" + auth::RandomToken(32);
  int64_t now = NowMs();
  DF_ASSIGN_OR_RETURN(
      int64_t id,
      db_->Insert("INSERT INTO personal_access_tokens (name, bio, token_hash, scopes, state, "
                  "expired_at, user_id, created_at, updated_at) "
                  "VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?)",
                  {name, bio, auth::Sha256Hex(*plaintext), Dump(json(scopes)), expired_at, user_id,
                   now, now}));
  return TokenRow{id, name, scopes, "active", expired_at, user_id};
}

StatusOr<TokenRow> Store::FindToken(const std::string& plaintext) {
  return One<TokenRow>(db_->Exec(std::string("SELECT ") + kTokenCols +
                                     " FROM personal_access_tokens WHERE token_hash = ?",
                                 {auth::Sha256Hex(plaintext)}),
                       "token", ToToken);
}

StatusOr<json> Store::ListTokens(int64_t user_id) {
  std::string sql = std::string("SELECT ") + kTokenCols + ", bio, created_at, updated_at " +
                    "FROM personal_access_tokens" + (user_id > 0 ? " WHERE user_id = ?" : "") +
                    " ORDER BY id";
  DF_ASSIGN_OR_RETURN(auto r, user_id > 0 ? db_->Exec(sql, {user_id}) : db_->Exec(sql));
  json out = json::array();
  for (const auto& row : r.rows) {
    TokenRow t = ToToken(row);
    out.push_back({{"id", t.id},
                   {"name", t.name},
                   {"bio", row.Text(6)},
                   {"scopes", t.scopes},
                   {"state", t.state},
                   {"expired_at", Rfc3339(t.expired_at)},
                   {"user_id", t.user_id},
                   {"created_at", Rfc3339(row.Int(7))},
                   {"updated_at", Rfc3339(row.Int(8))}});
  }
  return out;
}

Status Store::UpdateTokenState(int64_t id, const std::string& state) {
  DF_ASSIGN_OR_RETURN(
      auto r, db_->Exec("UPDATE personal_access_tokens SET state = ?, updated_at = ? WHERE id = ?",
                        {state, NowMs(), id}));
  return r.affected_rows == 0 ? NotFound("token not found") : Status::Ok();
}

Status Store::DeleteToken(int64_t id) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("DELETE FROM personal_access_tokens WHERE id = ?", {id}));
  return r.affected_rows == 0 ? NotFound("token not found") : Status::Ok();
}

StatusOr<ClusterRow> Store::CreateCluster(const ClusterRow& c) {
  int64_t now = NowMs();
  StatusOr<int64_t> id = Internal("not inserted");
  Status s = db_->Transaction([&](db::Database& tx) -> Status {
    if (c.is_default) {
      DF_RETURN_IF_ERROR(
          tx.Exec("UPDATE clusters SET is_default = 0 WHERE is_default = 1").status());
    }
    id = tx.Insert(
        "INSERT INTO clusters (name, bio, scopes, config, config_version, is_default, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
        {c.name, c.bio, Dump(c.scopes.ToJson()), Dump(c.config.ToJson()),
         int64_t{c.is_default ? 1 : 0}, now, now});
    return id.status();
  });
  if (!s.ok()) {
    id = s;
  }
  if (!id.ok()) {
    return id.status().code() == StatusCode::kAlreadyExists
               ? Status(StatusCode::kAlreadyExists, "cluster " + c.name + " already exists")
               : id.status();
  }
  return GetCluster(*id);
}

StatusOr<ClusterRow> Store::GetCluster(int64_t id) {
  return One<ClusterRow>(
      db_->Exec(std::string("SELECT ") + kClusterCols + " FROM clusters WHERE id = ?", {id}),
      "cluster", ToCluster);
}

StatusOr<std::vector<ClusterRow>> Store::ListClusters() {
  DF_ASSIGN_OR_RETURN(
      auto r, db_->Exec(std::string("SELECT ") + kClusterCols + " FROM clusters ORDER BY id"));
  std::vector<ClusterRow> out;
  for (const auto& row : r.rows) {
    out.push_back(ToCluster(row));
  }
  return out;
}

StatusOr<ClusterRow> Store::UpdateCluster(int64_t id, const ClusterSpec& patch) {
  Status s = db_->Transaction([&](db::Database& tx) -> Status {
    auto cur = One<ClusterRow>(
        tx.Exec(std::string("SELECT ") + kClusterCols + " FROM clusters WHERE id = ?", {id}),
        "cluster", ToCluster);
    if (!cur.ok()) {
      return cur.status();
    }
    ClusterRow c = *cur;
    c.name = patch.name.value_or(c.name);
    c.bio = patch.bio.value_or(c.bio);
    c.scopes = patch.scopes.value_or(c.scopes);
    if (patch.is_default && *patch.is_default && !c.is_default) {
      DF_RETURN_IF_ERROR(
          tx.Exec("UPDATE clusters SET is_default = 0 WHERE is_default = 1").status());
    }
    c.is_default = patch.is_default.value_or(c.is_default);
    if (patch.config) {
      c.config.Merge(*patch.config);
      ++c.config_version;
    }
    auto r = tx.Exec(
        "UPDATE clusters SET name = ?, bio = ?, scopes = ?, config = ?, config_version = ?, "
        "is_default = ?, updated_at = ? WHERE id = ?",
        {c.name, c.bio, Dump(c.scopes.ToJson()), Dump(c.config.ToJson()), c.config_version,
         int64_t{c.is_default ? 1 : 0}, NowMs(), id});
    if (!r.ok() && r.status().code() == StatusCode::kAlreadyExists) {
      return Status(StatusCode::kAlreadyExists, "cluster " + c.name + " already exists");
    }
    return r.status();
  });
  DF_RETURN_IF_ERROR(s);
  return GetCluster(id);
}

Status Store::DeleteCluster(int64_t id) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("DELETE FROM clusters WHERE id = ?", {id}));
  return r.affected_rows == 0 ? NotFound("cluster not found") : Status::Ok();
}

namespace {

constexpr char kAppCols[] = "id, name, url, bio, priority, user_id, created_at, updated_at";

json ToApplication(const db::Row& r) {
  return {{"id", r.Int(0)},
          {"name", r.Text(1)},
          {"url", r.Text(2)},
          {"bio", r.Text(3)},
          {"priority", ParseJson(r.Text(4), json::object())},
          {"user_id", r.Int(5)},
          {"created_at", Rfc3339(r.Int(6))},
          {"updated_at", Rfc3339(r.Int(7))}};
}

}  // namespace

StatusOr<json> Store::CreateApplication(const json& app, int64_t user_id) {
  int64_t now = NowMs();
  auto id = db_->Insert(
      "INSERT INTO applications (name, url, bio, priority, user_id, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {app.value("name", ""), app.value("url", ""), app.value("bio", ""),
       Dump(app.value("priority", json::object())), user_id, now, now});
  if (!id.ok()) {
    return id.status().code() == StatusCode::kAlreadyExists
               ? Status(StatusCode::kAlreadyExists,
                        "application " + app.value("name", "") + " already exists")
               : id.status();
  }
  return GetApplication(*id);
}

StatusOr<json> Store::GetApplication(int64_t id) {
  return One<json>(
      db_->Exec(std::string("SELECT ") + kAppCols + " FROM applications WHERE id = ?", {id}),
      "application", ToApplication);
}

StatusOr<json> Store::ListApplications() {
  DF_ASSIGN_OR_RETURN(
      auto r, db_->Exec(std::string("SELECT ") + kAppCols + " FROM applications ORDER BY id"));
  json out = json::array();
  for (const auto& row : r.rows) {
    out.push_back(ToApplication(row));
  }
  return out;
}

StatusOr<json> Store::UpdateApplication(int64_t id, const json& patch) {
  DF_ASSIGN_OR_RETURN(json cur, GetApplication(id));
  for (const char* k : {"name", "url", "bio", "priority"}) {
    if (patch.contains(k)) {
      cur[k] = patch[k];
    }
  }
  auto r = db_->Exec(
      "UPDATE applications SET name = ?, url = ?, bio = ?, priority = ?, updated_at = ? "
      "WHERE id = ?",
      {cur["name"].get<std::string>(), cur["url"].get<std::string>(), cur["bio"].get<std::string>(),
       Dump(cur["priority"]), NowMs(), id});
  if (!r.ok()) {
    return r.status().code() == StatusCode::kAlreadyExists
               ? Status(StatusCode::kAlreadyExists, "application name already taken")
               : r.status();
  }
  return GetApplication(id);
}

Status Store::DeleteApplication(int64_t id) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("DELETE FROM applications WHERE id = ?", {id}));
  return r.affected_rows == 0 ? NotFound("application not found") : Status::Ok();
}

StatusOr<ComponentRow> Store::UpsertComponent(const ComponentRow& c, const std::string& manager) {
  int64_t now = NowMs();
  std::vector<Value> key = {c.type, c.hostname, c.ip, int64_t{c.port}, c.cluster_id};
  for (int attempt = 0; attempt < 2; ++attempt) {
    DF_ASSIGN_OR_RETURN(
        auto r, db_->Exec("UPDATE components SET piece_port = ?, idc = ?, "
                          "location = ?, state = 'active', manager = ?, "
                          "last_keepalive_at = ?, updated_at = ?, version = ?, git_commit = ? "
                          "WHERE type = ? AND hostname = ? AND ip = ? AND port = ? AND "
                          "cluster_id = ?",
                          {int64_t{c.piece_port}, c.idc, c.location, manager, now, now, c.version,
                           c.git_commit, c.type, c.hostname, c.ip, int64_t{c.port}, c.cluster_id}));
    if (r.affected_rows == 0) {
      auto id = db_->Insert(
          "INSERT INTO components (type, hostname, ip, port, piece_port, idc, location, state, "
          "cluster_id, manager, last_keepalive_at, created_at, updated_at, version, git_commit) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)",
          {c.type, c.hostname, c.ip, int64_t{c.port}, int64_t{c.piece_port}, c.idc, c.location,
           c.cluster_id, manager, now, now, now, c.version, c.git_commit});
      if (!id.ok() && id.status().code() == StatusCode::kAlreadyExists) {
        continue;  // another replica inserted it first: update it
      }
      if (!id.ok()) {
        return id.status();
      }
    }
    return One<ComponentRow>(
        db_->Exec(std::string("SELECT ") + kComponentCols +
                      " FROM components WHERE type = ? AND hostname = ? AND ip = ? AND "
                      "port = ? AND cluster_id = ?",
                  key),
        "component", ToComponent);
  }
  return Aborted("component registration raced twice");
}

Status Store::TouchComponent(int64_t id, const std::string& manager) {
  int64_t now = NowMs();
  return db_
      ->Exec(
          "UPDATE components SET state = 'active', manager = ?, last_keepalive_at = ?, "
          "updated_at = ? WHERE id = ?",
          {manager, now, now, id})
      .status();
}

Status Store::DeactivateComponent(int64_t id, const std::string& manager) {
  return db_
      ->Exec(
          "UPDATE components SET state = 'inactive', updated_at = ? WHERE id = ? AND "
          "manager = ?",
          {NowMs(), id, manager})
      .status();
}

Status Store::ExpireComponents(const std::string& type, int64_t stale_before_ms) {
  return db_
      ->Exec(
          "UPDATE components SET state = 'inactive', updated_at = ? WHERE state = 'active' "
          "AND type = ? AND last_keepalive_at < ?",
          {NowMs(), type, stale_before_ms})
      .status();
}

StatusOr<std::vector<ComponentRow>> Store::ListComponents(const std::string& type,
                                                          const std::string& state) {
  std::string sql = std::string("SELECT ") + kComponentCols + " FROM components WHERE type = ?";
  std::vector<Value> params = {type};
  if (!state.empty()) {
    sql += " AND state = ?";
    params.emplace_back(state);
  }
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec(sql + " ORDER BY id", params));
  std::vector<ComponentRow> out;
  for (const auto& row : r.rows) {
    out.push_back(ToComponent(row));
  }
  return out;
}

Status Store::DeleteInactiveComponent(const std::string& type, int64_t id) {
  DF_ASSIGN_OR_RETURN(
      auto r, db_->Exec("DELETE FROM components WHERE id = ? AND type = ? AND state = 'inactive'",
                        {id, type}));
  if (r.affected_rows > 0) {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(
      auto found, db_->Exec("SELECT state FROM components WHERE id = ? AND type = ?", {id, type}));
  if (found.rows.empty()) {
    return NotFound(type == "scheduler" ? "scheduler not found" : "seed peer not found");
  }
  return FailedPrecondition("it is active: only inactive instances can be deleted");
}

StatusOr<JobRow> Store::CreateJob(JobRow job) {
  job.task_id = NewGroupId();
  job.state = "PENDING";
  job.created_at = job.updated_at = NowMs();
  json ids = job.scheduler_cluster_ids;
  Value harbor = job.harbor_key.empty() ? Value(nullptr) : Value(job.harbor_key);
  DF_ASSIGN_OR_RETURN(
      job.id,
      db_->Insert("INSERT INTO jobs (task_id, bio, type, state, args, result, user_id, "
                  "scheduler_cluster_ids, owner, lease_until, attempts, harbor_key, created_at, "
                  "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?, ?)",
                  {job.task_id, job.bio, job.type, job.state, Dump(job.args), Dump(job.result),
                   job.user_id, Dump(ids), harbor, job.created_at, job.updated_at}));
  return job;
}

StatusOr<JobRow> Store::GetJob(int64_t id) {
  return One<JobRow>(db_->Exec(std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = ?", {id}),
                     "job", ToJob);
}

StatusOr<std::optional<JobRow>> Store::FindJobByHarborKey(const std::string& key) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec(std::string("SELECT ") + kJobCols +
                                            " FROM jobs WHERE harbor_key = ? ORDER BY id DESC",
                                        {key}));
  if (r.rows.empty()) {
    return std::optional<JobRow>();
  }
  return std::optional<JobRow>(ToJob(r.rows[0]));
}

StatusOr<std::vector<JobRow>> Store::ListJobs(const std::string& type, const std::string& state,
                                              int64_t user_id, int64_t page, int64_t per_page,
                                              int64_t* total) {
  std::string where = " WHERE 1 = 1";
  std::vector<Value> params;
  if (!type.empty()) {
    where += " AND type = ?";
    params.emplace_back(type);
  }
  if (!state.empty()) {
    where += " AND state = ?";
    params.emplace_back(state);
  }
  if (user_id >= 0) {
    where += " AND user_id = ?";
    params.emplace_back(user_id);
  }
  DF_ASSIGN_OR_RETURN(auto count, db_->Exec("SELECT COUNT(*) FROM jobs" + where, params));
  *total = count.rows[0].Int(0);
  params.emplace_back(per_page);
  params.emplace_back((page - 1) * per_page);
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec(std::string("SELECT ") + kJobCols + " FROM jobs" + where +
                                            " ORDER BY id DESC LIMIT ? OFFSET ?",
                                        params));
  std::vector<JobRow> out;
  for (const auto& row : r.rows) {
    out.push_back(ToJob(row));
  }
  return out;
}

Status Store::DeleteJob(int64_t id) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("DELETE FROM jobs WHERE id = ?", {id}));
  return r.affected_rows == 0 ? NotFound("job not found") : Status::Ok();
}

StatusOr<std::optional<JobRow>> Store::ClaimJob(const std::string& owner, int64_t now,
                                                int64_t lease_until, int64_t max_attempts) {
  json gave_up = FailedJobResult("", "",
                                 "gave up after " + std::to_string(max_attempts) +
                                     " attempts: the manager running the job stopped "
                                     "each time");
  DF_RETURN_IF_ERROR(db_->Exec("UPDATE jobs SET state = 'FAILURE', result = ?, updated_at = ? "
                               "WHERE state = 'PENDING' AND lease_until < ? AND attempts >= ?",
                               {Dump(gave_up), now, now, max_attempts})
                         .status());
  DF_ASSIGN_OR_RETURN(auto candidates,
                      db_->Exec("SELECT id FROM jobs WHERE state = 'PENDING' AND lease_until < ? "
                                "AND attempts < ? ORDER BY id LIMIT 8",
                                {now, max_attempts}));
  for (const auto& row : candidates.rows) {
    int64_t id = row.Int(0);
    // The compare-and-set: exactly one manager's UPDATE matches.
    DF_ASSIGN_OR_RETURN(
        auto r, db_->Exec("UPDATE jobs SET owner = ?, lease_until = ?, attempts = attempts + 1 "
                          "WHERE id = ? AND state = 'PENDING' AND lease_until < ?",
                          {owner, lease_until, id, now}));
    if (r.affected_rows == 1) {
      DF_ASSIGN_OR_RETURN(JobRow job, GetJob(id));
      return std::optional<JobRow>(std::move(job));
    }
  }
  return std::optional<JobRow>();
}

StatusOr<bool> Store::RenewJob(int64_t id, const std::string& owner, int64_t lease_until) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = "
                                        "? AND state = 'PENDING'",
                                        {lease_until, id, owner}));
  return r.affected_rows == 1;
}

Status Store::ReleaseJob(int64_t id, const std::string& owner) {
  return db_
      ->Exec("UPDATE jobs SET lease_until = 0 WHERE id = ? AND owner = ? AND state = 'PENDING'",
             {id, owner})
      .status();
}

StatusOr<bool> Store::FinishJob(int64_t id, const std::string& owner, const std::string& state,
                                const json& result, const json& args) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE jobs SET state = ?, result = ?, args = ?, "
                                        "updated_at = ? WHERE id = ? AND owner = ? AND state = "
                                        "'PENDING'",
                                        {state, Dump(result), Dump(args), NowMs(), id, owner}));
  return r.affected_rows == 1;
}

}  // namespace df::manager
