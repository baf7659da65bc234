// The cluster CA (docs/security.md, "Joining with a bootstrap token"). The manager issues
// short-lived certificates to schedulers, seed peers and daemons: a host without one joins with
// a bootstrap token (kubeadm's model: the token says which role it may join as, and optionally
// under which name), a host with one renews it before it expires, as the identity it already
// has. Private keys never leave their hosts: a joining host sends its public key.
//
// Tokens live in the database (shared by manager replicas), as an ID and a hash of the secret;
// the CA's key and certificate are files (every replica is given the same).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/manager/config.h"
#include "dragonfly/manager/db.h"
#include "dragonfly/security/bootstrap_token.h"
#include "dragonfly/security/identity.h"
#include "manager/signin_limiter.h"

namespace df::manager {

struct BootstrapTokenRow {
  std::string id;
  security::Role role = security::Role::kDaemon;
  std::string name;  // "": any name
  std::string description;
  int64_t user_id = 0;
  int64_t uses = 0;  // successful joins
  int64_t expires_at = 0;
  int64_t created_at = 0;
  nlohmann::json ToJson() const;  // never the secret
};

class ClusterCa {
 public:
  // Loads the CA from config.cert / config.key, making both (0600, a 10-year CA) when neither
  // file exists.
  static StatusOr<std::unique_ptr<ClusterCa>> Open(const ManagerConfig::Ca& config,
                                                   db::Database* db);

  const std::string& ca_cert_pem() const { return ca_.cert_pem; }
  std::chrono::seconds cert_ttl() const { return ttl_; }

  // A new token for joining as `role` (not manager) under `name` ("" = any), valid `ttl`; its
  // text is only in the returned token.
  StatusOr<std::pair<security::BootstrapToken, BootstrapTokenRow>> CreateToken(
      security::Role role, const std::string& name, std::chrono::seconds ttl,
      const std::string& description, int64_t user_id);
  StatusOr<std::vector<BootstrapTokenRow>> ListTokens();
  Status DeleteToken(const std::string& id);

  // A certificate for `id` with `public_key_pem`, for a caller at `remote` presenting bootstrap
  // token `token`: Unauthenticated for a token that is malformed, unknown, wrong or expired,
  // PermissionDenied when it does not allow this role or name, ResourceExhausted after repeated
  // failures from one address or for one token ID.
  StatusOr<std::string> Join(std::string_view token, const security::Identity& id,
                             std::string_view public_key_pem, const std::string& remote);
  // A new certificate for an identity that already has one (the caller's), with a new key.
  StatusOr<std::string> Issue(const security::Identity& id, std::string_view public_key_pem);

 private:
  ClusterCa(security::KeyPair ca, db::Database* db, std::chrono::seconds ttl)
      : ca_(std::move(ca)), db_(db), ttl_(ttl) {}

  const security::KeyPair ca_;
  db::Database* const db_;
  const std::chrono::seconds ttl_;
  // Failed joins per client address (a token ID is no secret: counting per ID would let anyone
  // lock a token out).
  SignInLimiter limiter_{{.per_user = 1 << 30, .per_address = 20}};
};

}  // namespace df::manager
