#include "manager/store.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "dragonfly/manager/auth.h"
#include "manager/schema.h"
#include "manager/store_rows.h"

namespace df::manager {

using namespace store_rows;  // NOLINT(google-build-using-namespace): the store's own helpers

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

}  // namespace df::manager
