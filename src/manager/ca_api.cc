#include "manager/ca_api.h"

#include "dragonfly/common/config.h"

namespace df::manager {
namespace {

constexpr char kDefaultTokenTtl[] = "24h";

HttpResponse CreateToken(ClusterCa* ca, HttpRequest& req, const Principal& who) {
  StatusOr<json> body = ParseBody(req);
  if (!body.ok()) {
    return ErrorOf(body.status());
  }
  if (Status s = CheckTypes(*body, {"role", "name", "ttl", "description"}, json::value_t::string,
                            "a string");
      !s.ok()) {
    return ErrorOf(s);
  }
  StatusOr<security::Role> role = security::ParseRole(StrField(*body, "role"));
  if (!role.ok()) {
    return ErrorOf(role.status().Annotate("role"));
  }
  std::string ttl_text = StrField(*body, "ttl");
  StatusOr<std::chrono::milliseconds> ttl =
      config::ParseDuration(ttl_text.empty() ? kDefaultTokenTtl : ttl_text);
  if (!ttl.ok()) {
    return ErrorOf(ttl.status().Annotate("ttl"));
  }
  auto made = ca->CreateToken(*role, StrField(*body, "name"),
                              std::chrono::duration_cast<std::chrono::seconds>(*ttl),
                              StrField(*body, "description"), who.user_id);
  if (!made.ok()) {
    return ErrorOf(made.status());
  }
  json out = made->second.ToJson();
  out["token"] = made->first.ToString();
  return HttpResponse::Json(201, out);
}

}  // namespace

void AddClusterCaRoutes(ApiRoutes& r, ClusterCa* ca) {
  r.Add("POST", "/api/v1/bootstrap-tokens", Access::Root(),
        "Create a bootstrap token {role, name, ttl, description}; the token is shown once",
        [ca](HttpRequest& q, const Principal& p) { return CreateToken(ca, q, p); });
  r.Add("GET", "/api/v1/bootstrap-tokens", Access::Root(), "List bootstrap tokens (no secrets)",
        [ca](HttpRequest&, const Principal&) {
          auto tokens = ca->ListTokens();
          if (!tokens.ok()) {
            return ErrorOf(tokens.status());
          }
          json out = json::array();
          for (const BootstrapTokenRow& t : *tokens) {
            out.push_back(t.ToJson());
          }
          return HttpResponse::Json(200, out);
        });
  r.Add("DELETE", "/api/v1/bootstrap-tokens/:id", Access::Root(), "Delete a bootstrap token",
        [ca](HttpRequest& q, const Principal&) {
          Status s = ca->DeleteToken(q.params.at("id"));
          return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
        });
  r.Add("GET", "/api/v1/cluster-ca", Access::Root(), "The cluster CA's certificate (PEM)",
        [ca](HttpRequest&, const Principal&) {
          return HttpResponse::Json(200, {{"certificate", ca->ca_cert_pem()}});
        });
}

}  // namespace df::manager
