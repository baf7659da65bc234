// What the Store's source files share: column lists, JSON columns, and rows read back into the
// typed rows of store.h. Internal to the manager (store*.cc).
#pragma once

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "manager/store.h"

namespace df::manager::store_rows {

using db::Value;

inline constexpr char kUserCols[] = "id, name, email, password_hash, role, state";
inline constexpr char kTokenCols[] = "id, name, scopes, state, expired_at, user_id";
inline constexpr char kClusterCols[] =
    "id, name, bio, scopes, config, config_version, is_default, created_at, updated_at";
inline constexpr char kComponentCols[] =
    "id, type, hostname, ip, port, piece_port, idc, location, state, cluster_id, "
    "last_keepalive_at, version, git_commit";
inline constexpr char kJobCols[] =
    "id, task_id, bio, type, state, args, result, user_id, scheduler_cluster_ids, harbor_key, "
    "created_at, updated_at, owner, attempts";

// JSON text for a column. Bytes that are not UTF-8 (from a registry's or a peer's error text)
// become U+FFFD instead of throwing.
inline std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

inline json ParseJson(const std::string& s, json fallback) {
  if (s.empty()) {
    return fallback;
  }
  try {
    return json::parse(s);
  } catch (const json::exception&) {
    return fallback;
  }
}

inline UserRow ToUser(const db::Row& r) {
  return {r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5)};
}

inline TokenRow ToToken(const db::Row& r) {
  TokenRow t{r.Int(0), r.Text(1), {}, r.Text(3), r.Int(4), r.Int(5)};
  for (const auto& s : ParseJson(r.Text(2), json::array())) {
    t.scopes.push_back(s.get<std::string>());
  }
  return t;
}

inline ClusterRow ToCluster(const db::Row& r) {
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

inline ComponentRow ToComponent(const db::Row& r) {
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

inline JobRow ToJob(const db::Row& r) {
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

inline std::string NewGroupId() {
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
inline StatusOr<T> One(StatusOr<db::Result> r, const std::string& what, F convert) {
  if (!r.ok()) {
    return r.status();
  }
  if (r->rows.empty()) {
    return NotFound(what + " not found");
  }
  return convert(r->rows[0]);
}

}  // namespace df::manager::store_rows
