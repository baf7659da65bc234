// The manager's REST route table: every route is added here with who may call it and a one-line
// summary, and /openapi.json is generated from the table (so it cannot drift from the routes).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "manager/api_util.h"
#include "manager/authenticator.h"
#include "manager/http_server.h"

namespace df::manager {

// Who may call a route.
struct Access {
  enum class Kind { kOpen, kSession, kToken };
  Kind kind = Kind::kSession;
  std::string scope;  // kToken: the personal access token scope it needs (job, cluster)
  bool root = false;  // needs the root role

  static Access Open() { return {Kind::kOpen, "", false}; }
  // /api/v1: a signed-in user (JWT) or Basic credentials.
  static Access User() { return {Kind::kSession, "", false}; }
  static Access Root() { return {Kind::kSession, "", true}; }
  // /oapi/v1 and Harbor's API: a personal access token with `scope` (or Basic credentials).
  static Access Token(std::string scope, bool root = false) {
    return {Kind::kToken, std::move(scope), root};
  }
  // Token(scope, root) for an /oapi/v1 route (scope non-empty), else Root() or User().
  static Access For(std::string scope, bool root) {
    return !scope.empty() ? Token(std::move(scope), root) : Access{Kind::kSession, "", root};
  }
};

class ApiRoutes {
 public:
  struct Doc {
    std::string method;   // GET, POST, ...
    std::string pattern;  // as routed: /api/v1/users/:id
    Access access;
    std::string summary;
  };

  ApiRoutes(HttpRouter* router, Authenticator* auth) : router_(router), auth_(auth) {}

  // A route whose handler runs once the caller is authenticated as `access` says.
  void Add(const std::string& method, const std::string& pattern, Access access,
           std::string summary, AuthedHandler fn);
  // A route anyone may call.
  void AddOpen(const std::string& method, const std::string& pattern, std::string summary,
               HttpHandler fn);

  // Keeps `owner` (the object the handlers point into) alive as long as the router.
  void Keep(std::shared_ptr<void> owner) { router_->Keep(std::move(owner)); }

  const std::vector<Doc>& docs() const { return docs_; }
  // OpenAPI 3.0 for every route added so far (":id" written "{id}").
  nlohmann::json OpenApi() const;

 private:
  HttpRouter* router_;
  Authenticator* auth_;
  std::vector<Doc> docs_;
};

// The resources' routes (users_api.cc, clusters_api.cc, jobs_api.cc, swarm_api.cc).
struct ApiContext;
void AddUserRoutes(ApiRoutes& routes, ApiContext* ctx, Authenticator* auth);
void AddClusterRoutes(ApiRoutes& routes, ApiContext* ctx);
void AddJobRoutes(ApiRoutes& routes, ApiContext* ctx);
void AddSwarmRoutes(ApiRoutes& routes, ApiContext* ctx);

}  // namespace df::manager
