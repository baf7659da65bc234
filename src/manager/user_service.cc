#include "manager/user_service.h"

#include <spdlog/spdlog.h>

namespace df::manager {

nlohmann::json CreatedToken::ToJson() const {
  return {{"id", row.id},          {"name", row.name},   {"token", secret},
          {"scopes", row.scopes},  {"state", row.state}, {"expired_at", Rfc3339(row.expired_at)},
          {"user_id", row.user_id}};
}

UserService::UserService(Store* store, Authenticator* auth, bool allow_sign_up)
    : store_(store),
      auth_(auth),
      allow_sign_up_(allow_sign_up),
      sign_ups_(SignInLimiter::Options{.per_user = 100,
                                       .per_address = 5,
                                       .window = std::chrono::seconds(3600),
                                       .max_keys = 100000}) {}

StatusOr<UserRow> UserService::Create(const NewUser& u) {
  DF_ASSIGN_OR_RETURN(UserRow row, store_->CreateUser(u.name, u.email, u.password, u.role));
  spdlog::info("manager: user {} created name={} role={}", row.id, row.name, row.role);
  return row;
}

StatusOr<UserRow> UserService::SignUp(const NewUser& u, const std::string& remote) {
  if (!allow_sign_up_) {
    return PermissionDenied("sign-up is off on this manager (auth.allowSignUp); ask root");
  }
  if (int64_t wait = sign_ups_.RetryAfter("sign-up", remote, NowMs()); wait > 0) {
    return ResourceExhausted("too many sign-ups; retry in " + std::to_string(wait) + " s");
  }
  NewUser guest = u;
  guest.role = "guest";
  DF_ASSIGN_OR_RETURN(UserRow row,
                      store_->CreateUser(guest.name, guest.email, guest.password, guest.role));
  sign_ups_.Failed("sign-up", remote, NowMs());
  spdlog::info("manager: user {} signed up name={} remote={}", row.id, row.name, remote);
  return row;
}

StatusOr<UserRow> UserService::Get(const Principal& who, int64_t id) {
  if (who.role != "root" && who.user_id != id) {
    return PermissionDenied("this needs the root role");
  }
  return store_->GetUser(id);
}

StatusOr<std::vector<UserRow>> UserService::List() { return store_->ListUsers(); }

StatusOr<UserRow> UserService::Update(int64_t id, const UserPatch& patch) {
  DF_RETURN_IF_ERROR(store_->UpdateUser(id, patch));
  return store_->GetUser(id);
}

Status UserService::ChangePassword(const Principal& who, int64_t id,
                                   const std::string& old_password,
                                   const std::string& new_password) {
  if (who.role != "root" && who.user_id != id) {
    return PermissionDenied("you can only change your own password");
  }
  if (new_password.size() < 8 || new_password.size() > 64) {
    return InvalidArgument("new_password must have 8 to 64 characters");
  }
  auto user = store_->GetUser(id);
  DF_RETURN_IF_ERROR(user.status());
  if (who.role != "root" && !auth_->CheckPassword(user, old_password)) {
    return Status(StatusCode::kUnauthenticated, "old_password is wrong");
  }
  return store_->SetPassword(id, new_password);
}

Status UserService::TokenAccess(const Principal& who, int64_t token_id) {
  if (who.role == "root") {
    return Status::Ok();
  }
  DF_ASSIGN_OR_RETURN(nlohmann::json tokens, store_->ListTokens(who.user_id));
  for (const auto& t : tokens) {
    if (t["id"] == token_id) {
      return Status::Ok();
    }
  }
  return NotFound("token not found");
}

StatusOr<CreatedToken> UserService::CreateToken(const Principal& who, const TokenSpec& spec) {
  const int64_t user_id = spec.user_id.value_or(who.user_id);
  if (user_id != who.user_id && who.role != "root") {
    return PermissionDenied("tokens of other users need the root role");
  }
  CreatedToken t;
  DF_ASSIGN_OR_RETURN(t.row, store_->CreateToken(spec.name, spec.bio, spec.scopes,
                                                 spec.expired_at_ms, user_id, &t.secret));
  return t;
}

StatusOr<nlohmann::json> UserService::ListTokens(const Principal& who) {
  return store_->ListTokens(who.role == "root" ? 0 : who.user_id);
}

Status UserService::SetTokenState(const Principal& who, int64_t id, const std::string& state) {
  if (state != "active" && state != "inactive") {
    return InvalidArgument("state must be active or inactive");
  }
  DF_RETURN_IF_ERROR(TokenAccess(who, id));
  return store_->UpdateTokenState(id, state);
}

Status UserService::DeleteToken(const Principal& who, int64_t id) {
  DF_RETURN_IF_ERROR(TokenAccess(who, id));
  return store_->DeleteToken(id);
}

}  // namespace df::manager
