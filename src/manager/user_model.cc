#include "manager/user_model.h"

#include "manager/api_util.h"
#include "manager/store.h"

namespace df::manager {

StatusOr<NewUser> NewUser::FromJson(const json& body, bool with_role) {
  DF_RETURN_IF_ERROR(
      CheckTypes(body, {"name", "password", "email", "role"}, json::value_t::string, "a string"));
  NewUser u;
  u.name = StrField(body, "name");
  u.email = StrField(body, "email");
  u.password = StrField(body, "password");
  if (!ValidName(u.name, 3) || u.name.size() > 64) {
    return InvalidArgument("name must be 3 to 64 characters of [A-Za-z0-9_.-]");
  }
  if (u.email.size() > 255) {
    return InvalidArgument("email must have at most 255 characters");
  }
  if (u.password.size() < 8 || u.password.size() > 64) {
    return InvalidArgument("password must have 8 to 64 characters");
  }
  if (body.contains("role")) {
    if (!with_role) {
      return InvalidArgument("role: a sign-up makes a guest; root changes roles");
    }
    u.role = StrField(body, "role");
    if (u.role != "root" && u.role != "guest") {
      return InvalidArgument("role must be root or guest");
    }
  }
  return u;
}

StatusOr<UserPatch> UserPatch::FromJson(const json& body) {
  DF_RETURN_IF_ERROR(
      CheckTypes(body, {"email", "state", "role"}, json::value_t::string, "a string"));
  UserPatch p;
  for (const auto& [k, v] : body.items()) {
    const std::string s = v.is_string() ? v.get<std::string>() : "";
    if (k == "email") {
      if (s.size() > 255) {
        return InvalidArgument("email must have at most 255 characters");
      }
      p.email = s;
    } else if (k == "state") {
      if (s != "enable" && s != "disable") {
        return InvalidArgument("state must be enable or disable");
      }
      p.state = s;
    } else if (k == "role") {
      if (s != "root" && s != "guest") {
        return InvalidArgument("role must be root or guest");
      }
      p.role = s;
    } else {
      return InvalidArgument("unknown field " + k + " (email, state, role)");
    }
  }
  return p;
}

StatusOr<TokenSpec> TokenSpec::FromJson(const json& body, int64_t now_ms) {
  DF_RETURN_IF_ERROR(
      CheckTypes(body, {"name", "bio", "expired_at"}, json::value_t::string, "a string"));
  DF_RETURN_IF_ERROR(CheckTypes(body, {"user_id"}, json::value_t::number_unsigned, "a user ID"));
  TokenSpec t;
  t.name = StrField(body, "name");
  t.bio = StrField(body, "bio");
  if (!ValidName(t.name)) {
    return InvalidArgument("name must be 1 to 191 characters of [A-Za-z0-9_.-]");
  }
  if (t.bio.size() > 1024) {
    return InvalidArgument("bio must have at most 1024 characters");
  }
  if (body.contains("scopes")) {
    if (!body["scopes"].is_array()) {
      return InvalidArgument("scopes must be a list");
    }
    for (const auto& s : body["scopes"]) {
      if (!s.is_string() || (s != "job" && s != "cluster")) {
        return InvalidArgument("scopes: each must be job or cluster");
      }
      t.scopes.push_back(s.get<std::string>());
    }
  }
  t.expired_at_ms = now_ms + int64_t{365} * 24 * 3600 * 1000;
  if (std::string e = StrField(body, "expired_at"); !e.empty()) {
    DF_ASSIGN_OR_RETURN(t.expired_at_ms, ParseRfc3339(e));
  }
  if (body.contains("user_id")) {
    t.user_id = body["user_id"].get<int64_t>();
  }
  return t;
}

}  // namespace df::manager
