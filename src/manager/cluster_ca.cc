#include "manager/cluster_ca.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "dragonfly/common/file.h"
#include "dragonfly/manager/auth.h"
#include "manager/store.h"

namespace df::manager {
namespace {

constexpr char kCols[] =
    "id, role, name, description, user_id, uses, expires_at, created_at, secret_hash";

bool Exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

StatusOr<BootstrapTokenRow> FromRow(const db::Row& r) {
  BootstrapTokenRow t;
  t.id = r.Text(0);
  DF_ASSIGN_OR_RETURN(t.role, security::ParseRole(r.Text(1)));
  t.name = r.Text(2);
  t.description = r.Text(3);
  t.user_id = r.Int(4);
  t.uses = r.Int(5);
  t.expires_at = r.Int(6);
  t.created_at = r.Int(7);
  return t;
}

}  // namespace

nlohmann::json BootstrapTokenRow::ToJson() const {
  return {{"id", id},
          {"role", security::RoleName(role)},
          {"name", name},
          {"description", description},
          {"user_id", user_id},
          {"uses", uses},
          {"expires_at", Rfc3339(expires_at)},
          {"created_at", Rfc3339(created_at)}};
}

StatusOr<std::unique_ptr<ClusterCa>> ClusterCa::Open(const ManagerConfig::Ca& config,
                                                     db::Database* db) {
  const bool have_cert = Exists(config.cert);
  const bool have_key = Exists(config.key);
  security::KeyPair ca;
  if (!have_cert && !have_key) {
    DF_ASSIGN_OR_RETURN(ca,
                        security::MakeCa("Dragonfly cluster CA", std::chrono::hours(24 * 3650)));
    DF_RETURN_IF_ERROR(security::WriteSecretFile(config.key, ca.key_pem).Annotate("ca.key"));
    DF_RETURN_IF_ERROR(security::WriteSecretFile(config.cert, ca.cert_pem).Annotate("ca.cert"));
    spdlog::info("manager: made the cluster CA {} (copy it to every host as security.caCert)",
                 config.cert);
  } else if (!have_cert || !have_key) {
    return FailedPrecondition("ca: " + (have_cert ? config.key : config.cert) +
                              " is missing (remove both files to make a new CA)");
  } else {
    DF_ASSIGN_OR_RETURN(ca.cert_pem, ReadSmallFile(config.cert).Annotate("ca.cert"));
    DF_ASSIGN_OR_RETURN(ca.key_pem, ReadSmallFile(config.key).Annotate("ca.key"));
  }
  // The pair must match before any host depends on it.
  DF_RETURN_IF_ERROR(
      security::CheckKeyMatches(ca.key_pem, ca.cert_pem).Annotate("ca.cert / ca.key"));
  auto ttl = std::chrono::duration_cast<std::chrono::seconds>(config.cert_ttl);
  return std::unique_ptr<ClusterCa>(new ClusterCa(std::move(ca), db, ttl));
}

StatusOr<std::pair<security::BootstrapToken, BootstrapTokenRow>> ClusterCa::CreateToken(
    security::Role role, const std::string& name, std::chrono::seconds ttl,
    const std::string& description, int64_t user_id) {
  if (role == security::Role::kManager) {
    return InvalidArgument("role must be scheduler, seed-peer or daemon");
  }
  if (!name.empty()) {
    // The same rule as certificate names (checked by issuing nothing but the name).
    DF_RETURN_IF_ERROR(security::ParseSpiffeId(security::Identity{role, name}.SpiffeId())
                           .status()
                           .Annotate("name"));
  }
  if (ttl < std::chrono::seconds(60) || ttl > std::chrono::hours(24 * 366)) {
    return InvalidArgument("ttl must be in [1m, 366d]");
  }
  if (description.size() > 255) {
    return InvalidArgument("description must have at most 255 characters");
  }
  security::BootstrapToken token = security::MakeBootstrapToken();
  BootstrapTokenRow row;
  row.id = token.id;
  row.role = role;
  row.name = name;
  row.description = description;
  row.user_id = user_id;
  row.created_at = NowMs();
  row.expires_at = row.created_at + ttl.count() * 1000;
  DF_RETURN_IF_ERROR(db_->Exec("INSERT INTO bootstrap_tokens (id, secret_hash, role, name, "
                               "description, user_id, uses, expires_at, created_at) VALUES "
                               "(?, ?, ?, ?, ?, ?, 0, ?, ?)",
                               {row.id, token.SecretHash(), std::string(security::RoleName(role)),
                                name, description, user_id, row.expires_at, row.created_at})
                         .status());
  spdlog::info("manager: bootstrap token {} created for role {} name={} by user {}", row.id,
               security::RoleName(role), name.empty() ? "*" : name, user_id);
  return std::make_pair(std::move(token), std::move(row));
}

StatusOr<std::vector<BootstrapTokenRow>> ClusterCa::ListTokens() {
  DF_ASSIGN_OR_RETURN(db::Result r, db_->Exec(std::string("SELECT ") + kCols +
                                              " FROM bootstrap_tokens ORDER BY created_at"));
  std::vector<BootstrapTokenRow> out;
  for (const db::Row& row : r.rows) {
    DF_ASSIGN_OR_RETURN(BootstrapTokenRow t, FromRow(row));
    out.push_back(std::move(t));
  }
  return out;
}

Status ClusterCa::DeleteToken(const std::string& id) {
  DF_ASSIGN_OR_RETURN(db::Result r, db_->Exec("DELETE FROM bootstrap_tokens WHERE id = ?", {id}));
  if (r.affected_rows == 0) {
    return NotFound("bootstrap token " + id.substr(0, 16) + " not found");
  }
  spdlog::info("manager: bootstrap token {} deleted", id);
  return Status::Ok();
}

StatusOr<std::string> ClusterCa::Join(std::string_view text, const security::Identity& id,
                                      std::string_view public_key_pem, const std::string& remote) {
  const int64_t now = NowMs();
  StatusOr<security::BootstrapToken> token = security::ParseBootstrapToken(text);
  const std::string token_id = token.ok() ? token->id : "";
  if (int64_t wait = limiter_.RetryAfter(token_id, remote, now); wait > 0) {
    return ResourceExhausted("too many failed joins; retry in " + std::to_string(wait) + " s");
  }
  auto refuse = [&](const std::string& why) {
    limiter_.Failed(token_id, remote, now);
    spdlog::warn("manager: join as {} from {} refused: {}", id.SpiffeId(), remote, why);
    return Unauthenticated("bootstrap token refused: " + why);
  };
  if (!token.ok()) {
    return refuse("malformed");
  }
  DF_ASSIGN_OR_RETURN(db::Result r, db_->Exec(std::string("SELECT ") + kCols +
                                                  " FROM bootstrap_tokens WHERE id = ?",
                                              {token->id}));
  if (r.rows.empty() || !auth::SafeEqual(r.rows[0].Text(8), token->SecretHash())) {
    return refuse("unknown token");
  }
  DF_ASSIGN_OR_RETURN(BootstrapTokenRow row, FromRow(r.rows[0]));
  if (row.expires_at <= now) {
    return refuse("token " + row.id + " expired");
  }
  if (row.role != id.role || (!row.name.empty() && row.name != id.name)) {
    spdlog::warn("manager: join as {} from {} refused: token {} is for {} {}", id.SpiffeId(),
                 remote, row.id, security::RoleName(row.role), row.name.empty() ? "*" : row.name);
    return PermissionDenied(std::string("bootstrap token ") + row.id + " allows joining as " +
                            security::RoleName(row.role) +
                            (row.name.empty() ? "" : " " + row.name) + ", not as " +
                            security::RoleName(id.role) + " " + id.name);
  }
  DF_ASSIGN_OR_RETURN(std::string cert, Issue(id, public_key_pem));
  limiter_.Succeeded(token_id);
  (void)db_->Exec("UPDATE bootstrap_tokens SET uses = uses + 1 WHERE id = ?", {row.id});
  spdlog::info("manager: {} joined from {} with bootstrap token {}", id.SpiffeId(), remote, row.id);
  return cert;
}

StatusOr<std::string> ClusterCa::Issue(const security::Identity& id,
                                       std::string_view public_key_pem) {
  return security::IssueForKey(ca_, id, public_key_pem, ttl_);
}

}  // namespace df::manager
