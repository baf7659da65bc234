// Store: clusters, applications and components.
#include <spdlog/spdlog.h>

#include "manager/store.h"
#include "manager/store_rows.h"

namespace df::manager {

using namespace store_rows;  // NOLINT(google-build-using-namespace): the store's own helpers

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

}  // namespace df::manager
