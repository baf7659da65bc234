// Users, sign-in and personal access tokens:
//   POST /api/v1/users/signin, /api/v1/users[/:id[/reset_password]],
//   /api/v1/personal-access-tokens[/:id].
#include <spdlog/spdlog.h>

#include <algorithm>

#include "manager/api.h"
#include "manager/api_routes.h"

namespace df::manager {
namespace {

class UserRoutes {
 public:
  UserRoutes(ApiContext* ctx, Authenticator* auth) : store_(ctx->store), auth_(auth) {}

  HttpResponse CreateUser(HttpRequest& req, const Principal&) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    if (Status s = CheckTypes(*body, {"name", "password", "email", "role"}, json::value_t::string,
                              "a string");
        !s.ok()) {
      return ErrorOf(s);
    }
    std::string name = StrField(*body, "name");
    std::string password = StrField(*body, "password");
    std::string role = StrField(*body, "role");
    if (StrField(*body, "email").size() > 255) {
      return HttpResponse::Error(400, "email must have at most 255 characters");
    }
    if (role.empty()) {
      role = "guest";
    }
    if (!ValidName(name, 3) || name.size() > 64) {
      return HttpResponse::Error(400, "name must be 3 to 64 characters of [A-Za-z0-9_.-]");
    }
    if (password.size() < 8 || password.size() > 64) {
      return HttpResponse::Error(400, "password must have 8 to 64 characters");
    }
    if (role != "root" && role != "guest") {
      return HttpResponse::Error(400, "role must be root or guest");
    }
    auto u = store_->CreateUser(name, StrField(*body, "email"), password, role);
    return u.ok() ? HttpResponse::Json(200, u->ToJson()) : ErrorOf(u.status());
  }

  HttpResponse ResetPassword(HttpRequest& req, const Principal& who) {
    auto id = IdParam(req);
    auto body = ParseBody(req);
    if (!id.ok() || !body.ok()) {
      return ErrorOf(!id.ok() ? id.status() : body.status());
    }
    if (who.role != "root" && who.user_id != *id) {
      return HttpResponse::Error(403, "you can only change your own password");
    }
    std::string pw = StrField(*body, "new_password");
    if (pw.size() < 8 || pw.size() > 64) {
      return HttpResponse::Error(400, "new_password must have 8 to 64 characters");
    }
    auto user = store_->GetUser(*id);
    if (!user.ok()) {
      return ErrorOf(user.status());
    }
    if (who.role != "root" && !auth_->CheckPassword(user, StrField(*body, "old_password"))) {
      return HttpResponse::Error(401, "old_password is wrong");
    }
    Status s = store_->SetPassword(*id, pw);
    return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
  }

  // Root manages every token, other users their own.
  Status TokenAccess(int64_t token_id, const Principal& who) {
    if (who.role == "root") {
      return Status::Ok();
    }
    DF_ASSIGN_OR_RETURN(json tokens, store_->ListTokens(who.user_id));
    for (const auto& t : tokens) {
      if (t["id"] == token_id) {
        return Status::Ok();
      }
    }
    return NotFound("token not found");
  }

  HttpResponse CreateToken(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    Status types =
        CheckTypes(*body, {"name", "bio", "expired_at"}, json::value_t::string, "a string");
    if (types.ok()) {
      types = CheckTypes(*body, {"user_id"}, json::value_t::number_unsigned, "a user ID");
    }
    if (!types.ok()) {
      return ErrorOf(types);
    }
    std::string name = StrField(*body, "name");
    if (!ValidName(name)) {
      return HttpResponse::Error(400, "name must be 1 to 191 characters of [A-Za-z0-9_.-]");
    }
    std::vector<std::string> scopes;
    if (body->contains("scopes")) {
      if (!(*body)["scopes"].is_array()) {
        return HttpResponse::Error(400, "scopes must be a list");
      }
      for (const auto& s : (*body)["scopes"]) {
        if (!s.is_string() || (s != "job" && s != "cluster")) {
          return HttpResponse::Error(400, "scopes: each must be job or cluster");
        }
        scopes.push_back(s.get<std::string>());
      }
    }
    int64_t expired_at = NowMs() + int64_t{365} * 24 * 3600 * 1000;
    if (std::string e = StrField(*body, "expired_at"); !e.empty()) {
      auto t = ParseRfc3339(e);
      if (!t.ok()) {
        return ErrorOf(t.status());
      }
      expired_at = *t;
    }
    int64_t user_id = body->value("user_id", who.user_id);
    if (user_id != who.user_id && who.role != "root") {
      return HttpResponse::Error(403, "tokens of other users need the root role");
    }
    std::string plaintext;
    auto t =
        store_->CreateToken(name, StrField(*body, "bio"), scopes, expired_at, user_id, &plaintext);
    if (!t.ok()) {
      return ErrorOf(t.status());
    }
    return HttpResponse::Json(200, {{"id", t->id},
                                    {"name", t->name},
                                    {"token", plaintext},
                                    {"scopes", t->scopes},
                                    {"state", t->state},
                                    {"expired_at", Rfc3339(t->expired_at)},
                                    {"user_id", t->user_id}});
  }

  // Refuses to demote or disable user `id` when it is the last enabled root (nobody could
  // manage the manager any more).
  Status KeepsARoot(int64_t id) {
    DF_ASSIGN_OR_RETURN(std::vector<UserRow> users, store_->ListUsers());
    auto enabled_root = [](const UserRow& u) { return u.role == "root" && u.state == "enable"; };
    bool target = std::any_of(users.begin(), users.end(),
                              [&](const UserRow& u) { return u.id == id && enabled_root(u); });
    if (target && std::count_if(users.begin(), users.end(), enabled_root) == 1) {
      return FailedPrecondition("the last enabled root user cannot be demoted or disabled");
    }
    return Status::Ok();
  }

  void Register(ApiRoutes& r) {
    // Users.
    r.Add("POST", "/api/v1/users", Access::Root(), "Create a user {name, password, email, role}",
          [this](HttpRequest& q, const Principal& p) { return CreateUser(q, p); });
    r.Add("GET", "/api/v1/users", Access::Root(), "List users",
          [this](HttpRequest&, const Principal&) {
            auto users = store_->ListUsers();
            if (!users.ok()) {
              return ErrorOf(users.status());
            }
            json out = json::array();
            for (const auto& u : *users) {
              out.push_back(u.ToJson());
            }
            return HttpResponse::Json(200, out);
          });
    r.Add("GET", "/api/v1/users/:id", Access::User(), "Get a user (root, or the user itself)",
          [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            if (!id.ok()) {
              return ErrorOf(id.status());
            }
            if (p.role != "root" && p.user_id != *id) {
              return HttpResponse::Error(403, "this needs the root role");
            }
            auto u = store_->GetUser(*id);
            return u.ok() ? HttpResponse::Json(200, u->ToJson()) : ErrorOf(u.status());
          });
    r.Add("PATCH", "/api/v1/users/:id", Access::Root(),
          "Change a user's email, state (enable, disable) or role",
          [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            auto body = ParseBody(q);
            if (!id.ok() || !body.ok()) {
              return ErrorOf(!id.ok() ? id.status() : body.status());
            }
            for (const char* k : {"email", "state", "role"}) {
              if (body->contains(k) && !(*body)[k].is_string()) {
                return HttpResponse::Error(400, std::string(k) + " must be a string");
              }
            }
            std::string state = StrField(*body, "state");
            std::string role = StrField(*body, "role");
            if ((!state.empty() && state != "enable" && state != "disable") ||
                (!role.empty() && role != "root" && role != "guest")) {
              return HttpResponse::Error(400, "state: enable|disable, role: root|guest");
            }
            if (role == "guest" || state == "disable") {
              if (Status s = KeepsARoot(*id); !s.ok()) {
                return ErrorOf(s);
              }
            }
            Status s = store_->UpdateUser(*id, *body);
            auto u = store_->GetUser(*id);
            return s.ok() && u.ok() ? HttpResponse::Json(200, u->ToJson())
                                    : ErrorOf(s.ok() ? u.status() : s);
          });
    r.Add("POST", "/api/v1/users/:id/reset_password", Access::User(),
          "Change a password {old_password, new_password} (root: any user's, without the old one)",
          [this](HttpRequest& q, const Principal& p) { return ResetPassword(q, p); });

    // Personal access tokens.
    r.Add("POST", "/api/v1/personal-access-tokens", Access::User(),
          "Create a token {name, bio, scopes: [job, cluster], expired_at, user_id}; the token is "
          "shown once",
          [this](HttpRequest& q, const Principal& p) { return CreateToken(q, p); });
    r.Add("GET", "/api/v1/personal-access-tokens", Access::User(), "List tokens (root: everyone's)",
          [this](HttpRequest&, const Principal& p) {
            auto t = store_->ListTokens(p.role == "root" ? 0 : p.user_id);
            return t.ok() ? HttpResponse::Json(200, *t) : ErrorOf(t.status());
          });
    r.Add("PATCH", "/api/v1/personal-access-tokens/:id", Access::User(),
          "Revoke or re-activate a token {state: active, inactive}",
          [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            auto body = ParseBody(q);
            if (!id.ok() || !body.ok()) {
              return ErrorOf(!id.ok() ? id.status() : body.status());
            }
            if (Status s = TokenAccess(*id, p); !s.ok()) {
              return ErrorOf(s);
            }
            std::string state = StrField(*body, "state");
            if (state != "active" && state != "inactive") {
              return HttpResponse::Error(400, "state must be active or inactive");
            }
            Status s = store_->UpdateTokenState(*id, state);
            return s.ok() ? HttpResponse::Json(200, {{"id", *id}, {"state", state}}) : ErrorOf(s);
          });
    r.Add("DELETE", "/api/v1/personal-access-tokens/:id", Access::User(), "Delete a token",
          [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            Status s = id.ok() ? TokenAccess(*id, p) : id.status();
            if (s.ok()) {
              s = store_->DeleteToken(*id);
            }
            return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
          });
  }

 private:
  Store* store_;
  Authenticator* auth_;
};

}  // namespace

void AddUserRoutes(ApiRoutes& r, ApiContext* ctx, Authenticator* auth) {
  auto u = std::make_shared<UserRoutes>(ctx, auth);
  r.AddOpen(
      "POST", "/api/v1/users/signin", "Sign in: {name, password} -> {token, expire}",
      [auth](HttpRequest& q) {
        auto body = ParseBody(q);
        auto signed_in =
            body.ok() ? auth->SignIn(StrField(*body, "name"), StrField(*body, "password"), q.remote)
                      : StatusOr<json>(body.status());
        return signed_in.ok() ? HttpResponse::Json(200, *signed_in) : ErrorOf(signed_in.status());
      });
  u->Register(r);
  r.Keep(u);
}

}  // namespace df::manager
