// Who is calling the manager's REST API: sign-in (JWT), Basic credentials, personal access tokens
// for /oapi/v1 (and Harbor's old API), anonymous open-API access when configured; password checks
// at a bounded cost and throttled per name and address.
#pragma once

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "dragonfly/common/status.h"
#include "dragonfly/manager/config.h"
#include "manager/api_util.h"
#include "manager/signin_limiter.h"
#include "manager/store.h"

namespace df::manager {

class Authenticator {
 public:
  Authenticator(Store* store, const ManagerConfig* config, std::string jwt_key)
      : store_(store), config_(config), jwt_key_(std::move(jwt_key)) {}

  // `open_scope` non-empty: an /oapi/v1 route needing a personal access token with that scope,
  // or Basic credentials; anonymous when configured. Otherwise /api/v1: a JWT from sign-in or
  // Basic credentials; tokens are refused there, so a token handed to Harbor or a script cannot
  // manage users or mint more tokens.
  StatusOr<Principal> Authenticate(const HttpRequest& req, const std::string& open_scope);

  // {token, expire} for a right name and password; the same answer (and cost) for an unknown
  // user and a wrong password.
  StatusOr<nlohmann::json> SignIn(const std::string& name, const std::string& password,
                                  const std::string& remote);

  // Whether `password` is the password of `user` (enabled), at a bounded cost: argon2 takes
  // ~19 MiB and tens of ms, so a few run at once; an unknown user costs as much as a known one.
  bool CheckPassword(const StatusOr<UserRow>& user, const std::string& password);

 private:
  // Refuses a password check for `name` from `remote` while it is throttled.
  Status Throttled(const std::string& name, const std::string& remote);

  static constexpr int kMaxArgon = 4;
  Store* store_;
  const ManagerConfig* config_;
  std::string jwt_key_;
  std::mutex argon_mu_;
  std::condition_variable argon_cv_;
  int argon_running_ = 0;
  SignInLimiter limiter_;
};

}  // namespace df::manager
