// The typed requests of the users' REST API: a new user (root's or a sign-up), a change to a user
// and a new personal access token. FromJson checks what the API receives and names the bad field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::manager {

using nlohmann::json;

struct NewUser {
  std::string name;  // 3 to 64 of [A-Za-z0-9_.-]
  std::string email;
  std::string password;        // 8 to 64 characters
  std::string role = "guest";  // root or guest
  // {name, password, email, role}; `with_role` false (a sign-up): a role given is refused.
  static StatusOr<NewUser> FromJson(const json& body, bool with_role);
};

struct UserPatch {
  std::optional<std::string> email;
  std::optional<std::string> state;  // enable, disable
  std::optional<std::string> role;   // root, guest
  // Whether it takes a user's root power away (demotes or disables).
  bool TakesRootAway() const { return role == "guest" || state == "disable"; }
  static StatusOr<UserPatch> FromJson(const json& body);
};

struct TokenSpec {
  std::string name;
  std::string bio;
  std::vector<std::string> scopes;  // job, cluster
  int64_t expired_at_ms = 0;        // default: a year from now
  std::optional<int64_t> user_id;   // default: the caller
  static StatusOr<TokenSpec> FromJson(const json& body, int64_t now_ms);
};

}  // namespace df::manager
