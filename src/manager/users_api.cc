// Users, sign-in, sign-up and personal access tokens (handlers over UserService):
//   POST /api/v1/users/signin, /api/v1/users/signup, /api/v1/users[/:id[/reset_password]],
//   /api/v1/personal-access-tokens[/:id].
#include "manager/api.h"
#include "manager/api_routes.h"
#include "manager/user_service.h"

namespace df::manager {
namespace {

HttpResponse UserJson(const StatusOr<UserRow>& u) {
  return u.ok() ? HttpResponse::Json(200, u->ToJson()) : ErrorOf(u.status());
}

HttpResponse Done(const Status& s, json body = json::object()) {
  return s.ok() ? HttpResponse::Json(200, std::move(body)) : ErrorOf(s);
}

class UserRoutes {
 public:
  UserRoutes(ApiContext* ctx, Authenticator* auth)
      : users_(ctx->store, auth, ctx->config->auth.allow_sign_up) {}

  void Register(ApiRoutes& r) {
    // Sign-up: open, when the manager allows it.
    r.AddOpen("GET", "/api/v1/users/signup", "Whether this manager lets anyone sign up",
              [this](HttpRequest&) {
                return HttpResponse::Json(200, {{"allowed", users_.sign_up_allowed()}});
              });
    r.AddOpen(
        "POST", "/api/v1/users/signup",
        "Sign up as a guest {name, password, email} (auth.allowSignUp)", [this](HttpRequest& q) {
          auto body = ParseBody(q);
          auto u = body.ok() ? NewUser::FromJson(*body, false) : StatusOr<NewUser>(body.status());
          return UserJson(u.ok() ? users_.SignUp(*u, q.remote) : StatusOr<UserRow>(u.status()));
        });

    // Users.
    r.Add("POST", "/api/v1/users", Access::Root(), "Create a user {name, password, email, role}",
          [this](HttpRequest& q, const Principal&) {
            auto body = ParseBody(q);
            auto u = body.ok() ? NewUser::FromJson(*body, true) : StatusOr<NewUser>(body.status());
            return UserJson(u.ok() ? users_.Create(*u) : StatusOr<UserRow>(u.status()));
          });
    r.Add("GET", "/api/v1/users", Access::Root(), "List users",
          [this](HttpRequest&, const Principal&) {
            auto users = users_.List();
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
            return UserJson(id.ok() ? users_.Get(p, *id) : StatusOr<UserRow>(id.status()));
          });
    r.Add("PATCH", "/api/v1/users/:id", Access::Root(),
          "Change a user's email, state (enable, disable) or role",
          [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            auto body = ParseBody(q);
            if (!id.ok() || !body.ok()) {
              return ErrorOf(!id.ok() ? id.status() : body.status());
            }
            auto patch = UserPatch::FromJson(*body);
            return UserJson(patch.ok() ? users_.Update(*id, *patch)
                                       : StatusOr<UserRow>(patch.status()));
          });
    r.Add("POST", "/api/v1/users/:id/reset_password", Access::User(),
          "Change a password {old_password, new_password} (root: any user's, without the old one)",
          [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            auto body = ParseBody(q);
            if (!id.ok() || !body.ok()) {
              return ErrorOf(!id.ok() ? id.status() : body.status());
            }
            return Done(users_.ChangePassword(p, *id, StrField(*body, "old_password"),
                                              StrField(*body, "new_password")));
          });

    // Personal access tokens.
    r.Add("POST", "/api/v1/personal-access-tokens", Access::User(),
          "Create a token {name, bio, scopes: [job, cluster], expired_at, user_id}; the token is "
          "shown once",
          [this](HttpRequest& q, const Principal& p) {
            auto body = ParseBody(q);
            auto spec = body.ok() ? TokenSpec::FromJson(*body, NowMs())
                                  : StatusOr<TokenSpec>(body.status());
            auto t =
                spec.ok() ? users_.CreateToken(p, *spec) : StatusOr<CreatedToken>(spec.status());
            return t.ok() ? HttpResponse::Json(200, t->ToJson()) : ErrorOf(t.status());
          });
    r.Add("GET", "/api/v1/personal-access-tokens", Access::User(), "List tokens (root: everyone's)",
          [this](HttpRequest&, const Principal& p) {
            auto t = users_.ListTokens(p);
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
            std::string state = StrField(*body, "state");
            return Done(users_.SetTokenState(p, *id, state), {{"id", *id}, {"state", state}});
          });
    r.Add("DELETE", "/api/v1/personal-access-tokens/:id", Access::User(), "Delete a token",
          [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            return Done(id.ok() ? users_.DeleteToken(p, *id) : id.status());
          });
  }

 private:
  UserService users_;
};

}  // namespace

void AddUserRoutes(ApiRoutes& r, ApiContext* ctx, Authenticator* auth) {
  r.AddOpen(
      "POST", "/api/v1/users/signin", "Sign in: {name, password} -> {token, expire}",
      [auth](HttpRequest& q) {
        auto body = ParseBody(q);
        auto signed_in =
            body.ok() ? auth->SignIn(StrField(*body, "name"), StrField(*body, "password"), q.remote)
                      : StatusOr<json>(body.status());
        return signed_in.ok() ? HttpResponse::Json(200, *signed_in) : ErrorOf(signed_in.status());
      });
  auto u = std::make_shared<UserRoutes>(ctx, auth);
  u->Register(r);
  r.Keep(u);
}

}  // namespace df::manager
