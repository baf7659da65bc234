#include "manager/authenticator.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "dragonfly/manager/auth.h"

namespace df::manager {

Status Authenticator::Throttled(const std::string& name, const std::string& remote) {
  int64_t wait = limiter_.RetryAfter(name, remote, NowMs());
  if (wait > 0) {
    spdlog::warn("manager: sign-in throttled name={} remote={}", name.substr(0, 64), remote);
    return ResourceExhausted("too many failed sign-ins; retry in " + std::to_string(wait) + " s");
  }
  return Status::Ok();
}

bool Authenticator::CheckPassword(const StatusOr<UserRow>& user, const std::string& password) {
  static const std::string kDummy = *auth::HashPassword("not-a-user's-password");
  std::unique_lock lock(argon_mu_);
  argon_cv_.wait(lock, [&] { return argon_running_ < kMaxArgon; });
  ++argon_running_;
  lock.unlock();
  bool ok = auth::VerifyPassword(password, user.ok() ? user->password_hash : kDummy) && user.ok() &&
            user->state == "enable";
  lock.lock();
  --argon_running_;
  argon_cv_.notify_one();
  return ok;
}

StatusOr<Principal> Authenticator::Authenticate(const HttpRequest& req,
                                                const std::string& open_scope) {
  const bool open = !open_scope.empty();
  std::string h = req.Header("authorization");
  std::string token;
  std::string basic_name;
  if (h.rfind("Bearer ", 0) == 0) {
    token = h.substr(7);
  } else if (h.rfind("Basic ", 0) == 0) {
    auto decoded = auth::Base64Decode(h.substr(6));
    size_t colon = decoded.ok() ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      return Status(StatusCode::kUnauthenticated, "malformed Basic credentials");
    }
    basic_name = decoded->substr(0, colon);
    DF_RETURN_IF_ERROR(Throttled(basic_name, req.remote));
    auto user = store_->GetUserByName(basic_name);
    if (CheckPassword(user, decoded->substr(colon + 1))) {
      limiter_.Succeeded(basic_name);
      return Principal{user->id, user->name, user->role};
    }
    if (!open) {
      limiter_.Failed(basic_name, req.remote, NowMs());
      return Status(StatusCode::kUnauthenticated, "incorrect name or password");
    }
    // Harbor's basic mode with a token as the password (a failure counts if that fails too).
    token = decoded->substr(colon + 1);
  } else if (!h.empty()) {
    token = h;  // a bare token (Harbor's custom-header mode)
  } else if (auto it = req.query.find("access_token"); open && it != req.query.end()) {
    token = it->second;
  }
  if (token.empty()) {
    if (open && config_->auth.open_api_anonymous) {
      return Principal{0, "anonymous", "anonymous"};
    }
    return Status(StatusCode::kUnauthenticated, "credentials required");
  }
  if (std::count(token.begin(), token.end(), '.') == 2) {
    auto claims = auth::VerifyJwt(token, jwt_key_, NowMs() / 1000);
    if (!claims.ok()) {
      return claims.status();
    }
    // The user as it is now: a disabled or demoted user loses access at once, and a
    // password change ends every session signed in with the old one.
    auto user = store_->GetUser(claims->user_id);
    if (!user.ok() || user->state != "enable") {
      return Status(StatusCode::kUnauthenticated, "user disabled or removed");
    }
    if (!auth::SafeEqual(claims->password_version,
                         auth::PasswordVersion(jwt_key_, user->password_hash))) {
      return Status(StatusCode::kUnauthenticated, "password changed: sign in again");
    }
    return Principal{user->id, user->name, user->role};
  }
  if (!open) {
    return Status(StatusCode::kUnauthenticated,
                  "personal access tokens are for /oapi/v1; sign in for /api/v1");
  }
  auto pat = store_->FindToken(token);
  if (!pat.ok() && !basic_name.empty() && pat.status().code() == StatusCode::kNotFound) {
    limiter_.Failed(basic_name, req.remote, NowMs());
  }
  if (!pat.ok()) {
    return pat.status().code() == StatusCode::kNotFound
               ? Status(StatusCode::kUnauthenticated, "invalid token")
               : pat.status();
  }
  if (pat->state != "active") {
    return Status(StatusCode::kUnauthenticated, "token revoked");
  }
  if (pat->expired_at <= NowMs()) {
    return Status(StatusCode::kUnauthenticated, "token expired");
  }
  if (!pat->scopes.empty() &&
      std::find(pat->scopes.begin(), pat->scopes.end(), open_scope) == pat->scopes.end()) {
    return PermissionDenied("token lacks the '" + open_scope + "' scope");
  }
  auto user = store_->GetUser(pat->user_id);
  if (!user.ok() || user->state != "enable") {
    return Status(StatusCode::kUnauthenticated, "the token's user is disabled or removed");
  }
  return Principal{user->id, user->name, user->role};
}

StatusOr<nlohmann::json> Authenticator::SignIn(const std::string& name, const std::string& password,
                                               const std::string& remote) {
  DF_RETURN_IF_ERROR(Throttled(name, remote));
  auto user = store_->GetUserByName(name);
  if (!CheckPassword(user, password)) {
    limiter_.Failed(name, remote, NowMs());
    spdlog::warn("manager: failed sign-in name={} remote={}", name.substr(0, 64), remote);
    return Status(StatusCode::kUnauthenticated, "incorrect name or password");
  }
  limiter_.Succeeded(name);
  int64_t now = NowMs() / 1000;
  int64_t exp = now + config_->auth.jwt_timeout.count() / 1000;
  std::string token = auth::SignJwt({user->id, user->name, user->role, now, exp,
                                     auth::PasswordVersion(jwt_key_, user->password_hash)},
                                    jwt_key_);
  return nlohmann::json{{"token", token}, {"expire", Rfc3339(exp * 1000)}};
}

}  // namespace df::manager
