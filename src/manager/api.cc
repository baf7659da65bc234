#include "manager/api.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <regex>

#include "dragonfly/manager/auth.h"
#include "manager/api_util.h"
#include "manager/ca_api.h"
#include "manager/signin_limiter.h"

namespace df::manager {
namespace {

class Api {
 public:
  explicit Api(ApiContext* ctx) : ctx_(ctx), store_(ctx->store) {}

  // Refuses a password check for `name` from `remote` while it is throttled.
  Status Throttled(const std::string& name, const std::string& remote) {
    int64_t wait = limiter_.RetryAfter(name, remote, NowMs());
    if (wait > 0) {
      spdlog::warn("manager: sign-in throttled name={} remote={}", name.substr(0, 64), remote);
      return ResourceExhausted("too many failed sign-ins; retry in " + std::to_string(wait) + " s");
    }
    return Status::Ok();
  }

  // Checks a user's password at a bounded cost: argon2 takes ~19 MiB and tens of ms, so a few
  // run at once; an unknown user costs the same as a wrong password (no user enumeration).
  bool CheckPassword(const StatusOr<UserRow>& user, const std::string& password) {
    static const std::string kDummy = *auth::HashPassword("not-a-user's-password");
    std::unique_lock lock(argon_mu_);
    argon_cv_.wait(lock, [&] { return argon_running_ < kMaxArgon; });
    ++argon_running_;
    lock.unlock();
    bool ok = auth::VerifyPassword(password, user.ok() ? user->password_hash : kDummy) &&
              user.ok() && user->state == "enable";
    lock.lock();
    --argon_running_;
    argon_cv_.notify_one();
    return ok;
  }

  // Who is calling? `open_scope` non-empty: an /oapi/v1 route (or Harbor's old API) needing a
  // personal access token with that scope, or Basic credentials; anonymous when configured.
  // Otherwise /api/v1: a JWT from sign-in or Basic credentials; tokens are refused there, so a
  // token handed to Harbor or a script cannot manage users or mint more tokens.
  StatusOr<Principal> Authenticate(const HttpRequest& req, const std::string& open_scope) {
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
      if (open && ctx_->config->auth.open_api_anonymous) {
        return Principal{0, "anonymous", "anonymous"};
      }
      return Status(StatusCode::kUnauthenticated, "credentials required");
    }
    if (std::count(token.begin(), token.end(), '.') == 2) {
      auto claims = auth::VerifyJwt(token, ctx_->jwt_key, NowMs() / 1000);
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
                           auth::PasswordVersion(ctx_->jwt_key, user->password_hash))) {
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

  // Wraps a handler with authentication (and the root role when `root_only`).
  HttpHandler Guard(std::string scope, bool root_only,
                    std::function<HttpResponse(HttpRequest&, const Principal&)> fn) {
    return [this, scope, root_only, fn](HttpRequest& req) {
      auto who = Authenticate(req, scope);
      if (!who.ok()) {
        HttpResponse r = ErrorOf(who.status());
        if (r.status == 401) {
          r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"dragonfly\"");
        }
        return r;
      }
      if (root_only && who->role != "root") {
        return HttpResponse::Error(403, "this needs the root role");
      }
      return fn(req, *who);
    };
  }

  HttpResponse SignIn(HttpRequest& req) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    std::string name = StrField(*body, "name");
    std::string password = StrField(*body, "password");
    if (Status s = Throttled(name, req.remote); !s.ok()) {
      return ErrorOf(s);
    }
    auto user = store_->GetUserByName(name);
    // The same answer (and cost) for an unknown user and a wrong password.
    if (!CheckPassword(user, password)) {
      limiter_.Failed(name, req.remote, NowMs());
      spdlog::warn("manager: failed sign-in name={} remote={}", name.substr(0, 64), req.remote);
      return HttpResponse::Error(401, "incorrect name or password");
    }
    limiter_.Succeeded(name);
    int64_t now = NowMs() / 1000;
    int64_t exp = now + ctx_->config->auth.jwt_timeout.count() / 1000;
    std::string token = auth::SignJwt({user->id, user->name, user->role, now, exp,
                                       auth::PasswordVersion(ctx_->jwt_key, user->password_hash)},
                                      ctx_->jwt_key);
    return HttpResponse::Json(200, {{"token", token}, {"expire", Rfc3339(exp * 1000)}});
  }

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
    if (who.role != "root" && !CheckPassword(user, StrField(*body, "old_password"))) {
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

  static Status ValidateCluster(const json& body, bool create) {
    DF_RETURN_IF_ERROR(CheckTypes(body, {"name", "bio"}, json::value_t::string, "a string"));
    DF_RETURN_IF_ERROR(CheckTypes(body, {"is_default"}, json::value_t::boolean, "true or false"));
    if (create || body.contains("name")) {
      std::string name = StrField(body, "name");
      if (!ValidName(name)) {
        return InvalidArgument("name must be 1 to 191 characters of [A-Za-z0-9_.-]");
      }
    }
    if (body.contains("scopes")) {
      const json& s = body["scopes"];
      if (!s.is_object()) {
        return InvalidArgument("scopes must be an object");
      }
      for (const char* list : {"cidrs", "hostnames"}) {
        if (s.contains(list) &&
            (!s[list].is_array() || std::any_of(s[list].begin(), s[list].end(),
                                                [](const json& v) { return !v.is_string(); }))) {
          return InvalidArgument(std::string("scopes.") + list + " must be a list of strings");
        }
      }
      if (s.contains("hostnames")) {
        for (const auto& h : s["hostnames"]) {
          try {
            std::regex re(h.get<std::string>());
          } catch (const std::regex_error&) {
            return InvalidArgument("scopes.hostnames: bad regex " + h.get<std::string>());
          }
        }
      }
    }
    for (const char* key : {"scheduler_cluster_config", "config"}) {
      if (!body.contains(key)) {
        continue;
      }
      const json& c = body[key];
      if (!c.is_object()) {
        return InvalidArgument(std::string(key) + " must be an object");
      }
      for (const auto& [k, v] : c.items()) {
        if (k == "blocked_hosts") {
          if (!v.is_array()) {
            return InvalidArgument("blocked_hosts must be a list");
          }
          continue;
        }
        if (k != "candidate_parent_limit" && k != "filter_parent_limit" &&
            k != "back_to_source_count" && k != "upload_slots" && k != "job_rate_limit") {
          return InvalidArgument(std::string(key) + ": unknown setting " + k);
        }
        if (!v.is_number_unsigned() || v.get<uint64_t>() > 1000) {
          return InvalidArgument(std::string(key) + "." + k + " must be an integer 0 to 1000");
        }
      }
      if (c.contains("candidate_parent_limit") &&
          (c["candidate_parent_limit"].get<uint64_t>() < 1 ||
           c["candidate_parent_limit"].get<uint64_t>() > 20)) {
        return InvalidArgument("candidate_parent_limit must be 1 to 20");
      }
    }
    return Status::Ok();
  }

  // Dragonfly's application: {name, url, bio, priority: {value 0-6, urls: [{regex, value}]}}.
  static Status ValidateApplication(const json& body, bool create) {
    if (create || body.contains("name")) {
      if (!ValidName(StrField(body, "name"))) {
        return InvalidArgument("name must be 1 to 191 characters of [A-Za-z0-9_.-]");
      }
    }
    for (const char* k : {"url", "bio"}) {
      if (body.contains(k) && (!body[k].is_string() || body[k].get<std::string>().size() > 1024)) {
        return InvalidArgument(std::string(k) + " must be a string of at most 1024 characters");
      }
    }
    if (body.contains("priority")) {
      const json& p = body["priority"];
      if (!p.is_object() || (p.contains("value") && (!p["value"].is_number_unsigned() ||
                                                     p["value"].get<uint64_t>() > 6))) {
        return InvalidArgument("priority must be {\"value\": 0-6, \"urls\": [...]}");
      }
    }
    return Status::Ok();
  }

  HttpResponse CreateCluster(HttpRequest& req, const Principal&) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    if (Status s = ValidateCluster(*body, true); !s.ok()) {
      return ErrorOf(s);
    }
    ClusterRow c;
    c.name = StrField(*body, "name");
    c.bio = StrField(*body, "bio");
    c.scopes = body->value("scopes", json::object());
    c.config = body->value("scheduler_cluster_config", json::object());
    c.is_default = body->value("is_default", false);
    auto row = store_->CreateCluster(c);
    return row.ok() ? HttpResponse::Json(200, row->ToJson()) : ErrorOf(row.status());
  }

  HttpResponse UpdateCluster(HttpRequest& req, const Principal&) {
    auto id = IdParam(req);
    auto body = ParseBody(req);
    if (!id.ok() || !body.ok()) {
      return ErrorOf(!id.ok() ? id.status() : body.status());
    }
    if (Status s = ValidateCluster(*body, false); !s.ok()) {
      return ErrorOf(s);
    }
    json patch = *body;
    if (patch.contains("scheduler_cluster_config")) {
      patch["config"] = patch["scheduler_cluster_config"];
    }
    auto row = store_->UpdateCluster(*id, patch);
    if (row.ok() && patch.contains("config")) {
      spdlog::info("cluster {} config changed version={}", row->id, row->config_version);
    }
    return row.ok() ? HttpResponse::Json(200, row->ToJson()) : ErrorOf(row.status());
  }

  HttpResponse CreateJob(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    std::string type = StrField(*body, "type");
    if (type == "delete_task" && who.role != "root") {
      return HttpResponse::Error(403, "delete_task removes a task from every peer: root only");
    }
    auto args = ValidateJobArgs(type, body->value("args", json::object()));
    if (!args.ok()) {
      return ErrorOf(args.status());
    }
    if (type == "preheat") {
      if (Status s = CheckPreheatDestination(ctx_->config->job, args->value("url", "")); !s.ok()) {
        return ErrorOf(s);
      }
    }
    JobRow job;
    job.type = type;
    job.bio = StrField(*body, "bio");
    job.args = *args;
    job.user_id = who.user_id;
    if (body->contains("scheduler_cluster_ids")) {
      const json& ids = (*body)["scheduler_cluster_ids"];
      if (!ids.is_array() || std::any_of(ids.begin(), ids.end(),
                                         [](const json& v) { return !v.is_number_unsigned(); })) {
        return HttpResponse::Error(400, "scheduler_cluster_ids must be a list of cluster IDs");
      }
      for (const auto& v : ids) {
        auto cluster = store_->GetCluster(v.get<int64_t>());
        if (!cluster.ok()) {
          return HttpResponse::Error(400, "scheduler cluster " + v.dump() + " does not exist");
        }
        job.scheduler_cluster_ids.push_back(v.get<int64_t>());
      }
    }
    auto row = store_->CreateJob(job);
    if (!row.ok()) {
      return ErrorOf(row.status());
    }
    spdlog::info("job created id={} type={} user={}", row->id, row->type, who.name);
    ctx_->jobs->Poke();
    return HttpResponse::Json(200, RedactedJob(*row));
  }

  // Job args as stored may carry credentials (headers, password): never returned.
  static json RedactedJob(const JobRow& job) {
    json j = job.ToJson();
    j["args"] = ScrubbedJobArgs(j["args"]);
    return j;
  }

  HttpResponse ListJobs(HttpRequest& req, const Principal& who) {
    auto num = [&](const char* k, int64_t def, int64_t max) -> int64_t {
      auto it = req.query.find(k);
      if (it == req.query.end() || it->second.empty() || it->second.size() > 9 ||
          it->second.find_first_not_of("0123456789") != std::string::npos) {
        return def;
      }
      return std::clamp<int64_t>(std::stoll(it->second), 1, max);
    };
    int64_t page = num("page", 1, 1000000);
    int64_t per_page = num("per_page", 10, 1000);
    std::string state = req.query.count("state") ? req.query.at("state") : "";
    std::string type = req.query.count("type") ? req.query.at("type") : "";
    int64_t user_id = num("user_id", -1, int64_t{1} << 40);  // -1: every user's (root)
    if (who.role != "root") {
      // Guests see their own jobs; anonymous callers (user 0) those created anonymously.
      user_id = who.user_id;
    }
    int64_t total = 0;
    auto jobs = store_->ListJobs(type, state, user_id, page, per_page, &total);
    if (!jobs.ok()) {
      return ErrorOf(jobs.status());
    }
    json out = json::array();
    for (const auto& j : *jobs) {
      out.push_back(RedactedJob(j));
    }
    HttpResponse r = HttpResponse::Json(200, out);
    r.headers.emplace_back("X-Total-Count", std::to_string(total));
    return r;
  }

  // Harbor before 2.12: POST /preheats.
  HttpResponse HarborCreate(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    std::string type = StrField(*body, "type");
    if (type != "image" && type != "file") {
      return HttpResponse::Error(400, "type must be image or file");
    }
    json args = {{"type", type},
                 {"url", StrField(*body, "url")},
                 {"headers", body->value("headers", json::object())},
                 {"scope", "single_seed_peer"}};
    auto valid = ValidateJobArgs("preheat", args);
    if (!valid.ok()) {
      return ErrorOf(valid.status());
    }
    if (Status s = CheckPreheatDestination(ctx_->config->job, valid->value("url", "")); !s.ok()) {
      return ErrorOf(s);
    }
    // The image identity, hashed to fit the indexed column on every database.
    std::string key = auth::Sha256Hex(StrField(*body, "url") + "@" + StrField(*body, "digest"));
    auto existing = store_->FindJobByHarborKey(key);
    if (!existing.ok()) {
      return ErrorOf(existing.status());
    }
    if (existing->has_value() && (*existing)->state != "FAILURE") {
      return HttpResponse::Json(208, {{"ID", std::to_string((*existing)->id)}});
    }
    JobRow job;
    job.type = "preheat";
    job.bio = "harbor preheat " + StrField(*body, "image") + ":" + StrField(*body, "tag");
    job.args = *valid;
    job.user_id = who.user_id;
    job.harbor_key = key;
    auto row = store_->CreateJob(job);
    if (!row.ok()) {
      return ErrorOf(row.status());
    }
    ctx_->jobs->Poke();
    return HttpResponse::Json(200, {{"ID", std::to_string(row->id)}});
  }

  HttpResponse HarborGet(HttpRequest& req, const Principal& who) {
    auto id = IdParam(req);
    if (!id.ok()) {
      return ErrorOf(id.status());
    }
    auto job = store_->GetJob(*id);
    if (!job.ok()) {
      return ErrorOf(job.status());
    }
    if (who.role != "root" && job->user_id != who.user_id) {
      return HttpResponse::Error(404, "job not found");
    }
    std::string status = job->state == "SUCCESS"   ? "SUCCESS"
                         : job->state == "FAILURE" ? "FAILED"
                         : job->owner.empty()      ? "WAITING"
                                                   : "RUNNING";
    std::string error;
    if (job->state == "FAILURE" && job->result.contains("job_states")) {
      for (const auto& s : job->result["job_states"]) {
        if (!s.value("error", "").empty()) {
          error += (error.empty() ? "" : "; ") + s.value("error", "");
        }
      }
    }
    bool done = job->state != "PENDING";
    return HttpResponse::Json(200, {{"ID", std::to_string(job->id)},
                                    {"startTime", Rfc3339(job->created_at)},
                                    {"finishTime", done ? Rfc3339(job->updated_at) : ""},
                                    {"errorMsg", error},
                                    {"Status", status}});
  }

  void Register(HttpRouter& r) {
    auto text = [](const char* body) {
      return [body](HttpRequest&) {
        HttpResponse resp;
        resp.body = body;
        resp.content_type = "text/plain";
        return resp;
      };
    };
    r.Add("GET", "/healthy", text("OK"));
    r.Add("GET", "/_ping", text("pong"));
    r.Add("GET", "/openapi.json", [](HttpRequest&) { return HttpResponse::Json(200, OpenApi()); });
    r.Add("POST", "/api/v1/users/signin", [this](HttpRequest& q) { return SignIn(q); });
    if (ctx_->ca != nullptr) {
      RegisterClusterCaApi(r, ctx_->ca,
                           [this](AuthedHandler fn) { return Guard("", true, std::move(fn)); });
    }

    // Users.
    r.Add("POST", "/api/v1/users",
          Guard("", true, [this](HttpRequest& q, const Principal& p) { return CreateUser(q, p); }));
    r.Add("GET", "/api/v1/users", Guard("", true, [this](HttpRequest&, const Principal&) {
            auto users = store_->ListUsers();
            if (!users.ok()) {
              return ErrorOf(users.status());
            }
            json out = json::array();
            for (const auto& u : *users) {
              out.push_back(u.ToJson());
            }
            return HttpResponse::Json(200, out);
          }));
    r.Add("GET", "/api/v1/users/:id", Guard("", false, [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            if (!id.ok()) {
              return ErrorOf(id.status());
            }
            if (p.role != "root" && p.user_id != *id) {
              return HttpResponse::Error(403, "this needs the root role");
            }
            auto u = store_->GetUser(*id);
            return u.ok() ? HttpResponse::Json(200, u->ToJson()) : ErrorOf(u.status());
          }));
    r.Add("PATCH", "/api/v1/users/:id", Guard("", true, [this](HttpRequest& q, const Principal&) {
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
            Status s = store_->UpdateUser(*id, *body);
            auto u = store_->GetUser(*id);
            return s.ok() && u.ok() ? HttpResponse::Json(200, u->ToJson())
                                    : ErrorOf(s.ok() ? u.status() : s);
          }));
    r.Add("POST", "/api/v1/users/:id/reset_password",
          Guard("", false,
                [this](HttpRequest& q, const Principal& p) { return ResetPassword(q, p); }));

    // Personal access tokens.
    r.Add(
        "POST", "/api/v1/personal-access-tokens",
        Guard("", false, [this](HttpRequest& q, const Principal& p) { return CreateToken(q, p); }));
    r.Add("GET", "/api/v1/personal-access-tokens",
          Guard("", false, [this](HttpRequest&, const Principal& p) {
            auto t = store_->ListTokens(p.role == "root" ? 0 : p.user_id);
            return t.ok() ? HttpResponse::Json(200, *t) : ErrorOf(t.status());
          }));
    r.Add("PATCH", "/api/v1/personal-access-tokens/:id",
          Guard("", false, [this](HttpRequest& q, const Principal& p) {
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
          }));
    r.Add("DELETE", "/api/v1/personal-access-tokens/:id",
          Guard("", false, [this](HttpRequest& q, const Principal& p) {
            auto id = IdParam(q);
            Status s = id.ok() ? TokenAccess(*id, p) : id.status();
            if (s.ok()) {
              s = store_->DeleteToken(*id);
            }
            return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
          }));

    // Clusters: one row is a scheduler cluster and its seed peer cluster.
    for (std::string prefix :
         {"/api/v1/clusters", "/api/v1/scheduler-clusters", "/oapi/v1/clusters"}) {
      std::string scope = prefix.rfind("/oapi", 0) == 0 ? "cluster" : "";
      const bool root = true;  // changing clusters steers every daemon: root only
      r.Add("POST", prefix, Guard(scope, root, [this](HttpRequest& q, const Principal& p) {
              return CreateCluster(q, p);
            }));
      r.Add("GET", prefix, Guard(scope, false, [this](HttpRequest&, const Principal&) {
              auto cs = store_->ListClusters();
              if (!cs.ok()) {
                return ErrorOf(cs.status());
              }
              json out = json::array();
              for (const auto& c : *cs) {
                out.push_back(c.ToJson());
              }
              return HttpResponse::Json(200, out);
            }));
      r.Add("GET", prefix + "/:id", Guard(scope, false, [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              auto c = id.ok() ? store_->GetCluster(*id) : StatusOr<ClusterRow>(id.status());
              return c.ok() ? HttpResponse::Json(200, c->ToJson()) : ErrorOf(c.status());
            }));
      r.Add("PATCH", prefix + "/:id",
            Guard(scope, root,
                  [this](HttpRequest& q, const Principal& p) { return UpdateCluster(q, p); }));
      r.Add("DELETE", prefix + "/:id", Guard(scope, root, [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              Status s = id.ok() ? store_->DeleteCluster(*id) : id.status();
              return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
            }));
    }

    // Applications.
    r.Add("POST", "/api/v1/applications",
          Guard("", true, [this](HttpRequest& q, const Principal& p) {
            auto body = ParseBody(q);
            Status s = body.ok() ? ValidateApplication(*body, true) : body.status();
            if (!s.ok()) {
              return ErrorOf(s);
            }
            auto app = store_->CreateApplication(*body, p.user_id);
            return app.ok() ? HttpResponse::Json(200, *app) : ErrorOf(app.status());
          }));
    r.Add("GET", "/api/v1/applications", Guard("", false, [this](HttpRequest&, const Principal&) {
            auto apps = store_->ListApplications();
            return apps.ok() ? HttpResponse::Json(200, *apps) : ErrorOf(apps.status());
          }));
    r.Add("GET", "/api/v1/applications/:id",
          Guard("", false, [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            auto app = id.ok() ? store_->GetApplication(*id) : StatusOr<json>(id.status());
            return app.ok() ? HttpResponse::Json(200, *app) : ErrorOf(app.status());
          }));
    r.Add("PATCH", "/api/v1/applications/:id",
          Guard("", true, [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            auto body = ParseBody(q);
            Status s = !id.ok()     ? id.status()
                       : !body.ok() ? body.status()
                                    : ValidateApplication(*body, false);
            if (!s.ok()) {
              return ErrorOf(s);
            }
            auto app = store_->UpdateApplication(*id, *body);
            return app.ok() ? HttpResponse::Json(200, *app) : ErrorOf(app.status());
          }));
    r.Add("DELETE", "/api/v1/applications/:id",
          Guard("", true, [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            Status s = id.ok() ? store_->DeleteApplication(*id) : id.status();
            return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
          }));

    // Components.
    for (auto [path, type] :
         {std::pair{"/api/v1/schedulers", "scheduler"},
          std::pair{"/api/v1/seed-peers", "seed_peer"}, std::pair{"/api/v1/peers", "peer"}}) {
      std::string t = type;
      r.Add("GET", path, Guard("", false, [this, t](HttpRequest& q, const Principal&) {
              std::string state = q.query.count("state") ? q.query.at("state") : "";
              auto rows = store_->ListComponents(t, state);
              if (!rows.ok()) {
                return ErrorOf(rows.status());
              }
              json out = json::array();
              for (const auto& c : *rows) {
                out.push_back(c.ToJson());
              }
              return HttpResponse::Json(200, out);
            }));
    }

    // Jobs.
    for (std::string prefix : {"/api/v1/jobs", "/oapi/v1/jobs"}) {
      std::string scope = prefix.rfind("/oapi", 0) == 0 ? "job" : "";
      r.Add("POST", prefix, Guard(scope, false, [this](HttpRequest& q, const Principal& p) {
              return CreateJob(q, p);
            }));
      r.Add("GET", prefix, Guard(scope, false, [this](HttpRequest& q, const Principal& p) {
              return ListJobs(q, p);
            }));
      r.Add("GET", prefix + "/:id", Guard(scope, false, [this](HttpRequest& q, const Principal& p) {
              auto id = IdParam(q);
              auto j = id.ok() ? store_->GetJob(*id) : StatusOr<JobRow>(id.status());
              if (j.ok() && p.role != "root" && j->user_id != p.user_id) {
                return HttpResponse::Error(404, "job not found");
              }
              return j.ok() ? HttpResponse::Json(200, RedactedJob(*j)) : ErrorOf(j.status());
            }));
      r.Add("DELETE", prefix + "/:id", Guard(scope, true, [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              Status s = id.ok() ? store_->DeleteJob(*id) : id.status();
              return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
            }));
    }

    // Harbor before 2.12.
    r.Add("POST", "/preheats", Guard("job", false, [this](HttpRequest& q, const Principal& p) {
            return HarborCreate(q, p);
          }));
    r.Add("GET", "/preheats/:id", Guard("job", false, [this](HttpRequest& q, const Principal& p) {
            return HarborGet(q, p);
          }));
  }

  static json OpenApi() {
    json paths = json::object();
    auto op = [](const char* summary, const char* security) {
      json o = {{"summary", summary}, {"responses", {{"200", {{"description", "OK"}}}}}};
      if (security != nullptr) {
        o["security"] = json::array({{{security, json::array()}}});
      }
      return o;
    };
    paths["/healthy"]["get"] = op("Health check", nullptr);
    paths["/api/v1/users/signin"]["post"] = op("Sign in: {name, password} -> {token}", nullptr);
    paths["/api/v1/users"]["get"] = op("List users (root)", "jwt");
    paths["/api/v1/users"]["post"] = op("Create a user {name, password, email, role}", "jwt");
    paths["/api/v1/users/{id}"]["get"] = op("Get a user", "jwt");
    paths["/api/v1/users/{id}"]["patch"] = op("Update email, state or role (root)", "jwt");
    paths["/api/v1/users/{id}/reset_password"]["post"] =
        op("Change a password {old_password, new_password}", "jwt");
    paths["/api/v1/personal-access-tokens"]["post"] =
        op("Create a token {name, bio, scopes: [job, cluster], expired_at, user_id}", "jwt");
    paths["/api/v1/personal-access-tokens"]["get"] = op("List tokens", "jwt");
    paths["/api/v1/personal-access-tokens/{id}"]["patch"] =
        op("Revoke or re-activate {state}", "jwt");
    paths["/api/v1/personal-access-tokens/{id}"]["delete"] = op("Delete a token", "jwt");
    for (const char* p : {"/api/v1/clusters", "/oapi/v1/clusters"}) {
      const char* sec = std::string(p).rfind("/oapi", 0) == 0 ? "pat" : "jwt";
      paths[p]["get"] = op("List clusters", sec);
      paths[p]["post"] = op("Create a cluster {name, bio, scopes, scheduler_cluster_config}", sec);
      paths[std::string(p) + "/{id}"]["get"] = op("Get a cluster", sec);
      paths[std::string(p) + "/{id}"]["patch"] =
          op("Update a cluster (config changes reach schedulers at once)", sec);
      paths[std::string(p) + "/{id}"]["delete"] = op("Delete a cluster", sec);
    }
    paths["/api/v1/applications"]["get"] = op("List applications", "jwt");
    paths["/api/v1/applications"]["post"] =
        op("Create an application {name, url, bio, priority}", "jwt");
    paths["/api/v1/applications/{id}"]["get"] = op("Get an application", "jwt");
    paths["/api/v1/applications/{id}"]["patch"] = op("Update an application", "jwt");
    paths["/api/v1/applications/{id}"]["delete"] = op("Delete an application", "jwt");
    paths["/api/v1/schedulers"]["get"] = op("List schedulers (?state=active)", "jwt");
    paths["/api/v1/seed-peers"]["get"] = op("List seed peers (?state=active)", "jwt");
    paths["/api/v1/peers"]["get"] = op("List daemons seen asking for schedulers", "jwt");
    for (const char* p : {"/api/v1/jobs", "/oapi/v1/jobs"}) {
      const char* sec = std::string(p).rfind("/oapi", 0) == 0 ? "pat" : "jwt";
      paths[p]["post"] = op("Create a job: preheat, get_task, delete_task", sec);
      paths[p]["get"] = op("List jobs (?type, state, user_id, page, per_page)", sec);
      paths[std::string(p) + "/{id}"]["get"] = op("Get a job and its result", sec);
      paths[std::string(p) + "/{id}"]["delete"] = op("Delete a job (root)", sec);
    }
    paths["/_ping"]["get"] = op("Harbor (before 2.12) health check", nullptr);
    paths["/preheats"]["post"] = op("Harbor (before 2.12) preheat -> {ID}", "pat");
    paths["/preheats/{id}"]["get"] = op("Harbor (before 2.12) preheat status", "pat");
    return {{"openapi", "3.0.3"},
            {"info", {{"title", "Dragonfly manager API"}, {"version", "1"}}},
            {"components",
             {{"securitySchemes",
               {{"jwt", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
                {"pat", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
            {"paths", paths}};
  }

 private:
  static constexpr int kMaxArgon = 4;
  ApiContext* ctx_;
  Store* store_;
  std::mutex argon_mu_;
  std::condition_variable argon_cv_;
  int argon_running_ = 0;
  SignInLimiter limiter_;
};

}  // namespace

void RegisterApi(HttpRouter& router, ApiContext* ctx) {
  auto api = std::make_shared<Api>(ctx);
  api->Register(router);
  router.Keep(api);
}

}  // namespace df::manager
