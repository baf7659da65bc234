// Users and personal access tokens over the Store, with the rules the REST handlers
// (users_api.cc) rely on: who may see and change what, sign-up (a guest, when the manager allows
// it, throttled per address), the last enabled root kept.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "manager/api_util.h"
#include "manager/authenticator.h"
#include "manager/signin_limiter.h"
#include "manager/store.h"
#include "manager/user_model.h"

namespace df::manager {

// A token as created: its row and its secret (shown this once).
struct CreatedToken {
  TokenRow row;
  std::string secret;
  nlohmann::json ToJson() const;
};

class UserService {
 public:
  UserService(Store* store, Authenticator* auth, bool allow_sign_up);

  bool sign_up_allowed() const { return allow_sign_up_; }
  // Root adds a user.
  StatusOr<UserRow> Create(const NewUser& u);
  // Anyone makes themselves a guest: PermissionDenied unless the manager allows sign-up
  // (auth.allowSignUp); ResourceExhausted past 5 sign-ups per address per hour (100 in all).
  StatusOr<UserRow> SignUp(const NewUser& u, const std::string& remote);
  StatusOr<UserRow> Get(const Principal& who, int64_t id);  // root, or the user itself
  StatusOr<std::vector<UserRow>> List();
  // FailedPrecondition when it would leave no enabled root.
  StatusOr<UserRow> Update(int64_t id, const UserPatch& patch);
  // Root sets anyone's password; a user changes their own, giving the old one.
  Status ChangePassword(const Principal& who, int64_t id, const std::string& old_password,
                        const std::string& new_password);

  // Root manages every token, other users their own.
  StatusOr<CreatedToken> CreateToken(const Principal& who, const TokenSpec& spec);
  StatusOr<nlohmann::json> ListTokens(const Principal& who);
  Status SetTokenState(const Principal& who, int64_t id, const std::string& state);
  Status DeleteToken(const Principal& who, int64_t id);

 private:
  Status TokenAccess(const Principal& who, int64_t token_id);

  Store* store_;
  Authenticator* auth_;
  const bool allow_sign_up_;
  SignInLimiter sign_ups_;  // counts every sign-up as a "failure": the per-address bound
};

}  // namespace df::manager
