// Clusters (a scheduler cluster and its seed peer cluster), applications, and the components the
// manager knows: /api/v1/clusters (also /api/v1/scheduler-clusters, /oapi/v1/clusters),
// /api/v1/applications, /api/v1/schedulers, /api/v1/seed-peers, /api/v1/peers.
#include <spdlog/spdlog.h>

#include "manager/api.h"
#include "manager/api_routes.h"
#include "manager/cluster_service.h"

namespace df::manager {
namespace {

class ClusterRoutes {
 public:
  explicit ClusterRoutes(ApiContext* ctx) : store_(ctx->store), clusters_(ctx->store) {}

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
    auto spec = body.ok() ? ClusterSpec::FromJson(*body) : StatusOr<ClusterSpec>(body.status());
    auto row = spec.ok() ? clusters_.Create(*spec) : StatusOr<ClusterRow>(spec.status());
    return row.ok() ? HttpResponse::Json(200, row->ToJson()) : ErrorOf(row.status());
  }

  HttpResponse UpdateCluster(HttpRequest& req, const Principal&) {
    auto id = IdParam(req);
    auto body = ParseBody(req);
    if (!id.ok() || !body.ok()) {
      return ErrorOf(!id.ok() ? id.status() : body.status());
    }
    auto spec = ClusterSpec::FromJson(*body);
    auto row = spec.ok() ? clusters_.Update(*id, *spec) : StatusOr<ClusterRow>(spec.status());
    return row.ok() ? HttpResponse::Json(200, row->ToJson()) : ErrorOf(row.status());
  }

  void Register(ApiRoutes& r) {
    // Clusters: one row is a scheduler cluster and its seed peer cluster.
    for (std::string prefix :
         {"/api/v1/clusters", "/api/v1/scheduler-clusters", "/oapi/v1/clusters"}) {
      std::string scope = prefix.rfind("/oapi", 0) == 0 ? "cluster" : "";
      const bool root = true;  // changing clusters steers every daemon: root only
      r.Add("POST", prefix, Access::For(scope, root),
            "Create a cluster {name, bio, is_default, scopes, scheduler_cluster_config}",
            [this](HttpRequest& q, const Principal& p) { return CreateCluster(q, p); });
      r.Add("GET", prefix, Access::For(scope, false), "List clusters",
            [this](HttpRequest&, const Principal&) {
              auto cs = clusters_.List();
              if (!cs.ok()) {
                return ErrorOf(cs.status());
              }
              json out = json::array();
              for (const auto& c : *cs) {
                out.push_back(c.ToJson());
              }
              return HttpResponse::Json(200, out);
            });
      r.Add("GET", prefix + "/:id", Access::For(scope, false), "Get a cluster",
            [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              auto c = id.ok() ? clusters_.Get(*id) : StatusOr<ClusterRow>(id.status());
              return c.ok() ? HttpResponse::Json(200, c->ToJson()) : ErrorOf(c.status());
            });
      r.Add("PATCH", prefix + "/:id", Access::For(scope, root),
            "Update a cluster (config changes reach its schedulers at once)",
            [this](HttpRequest& q, const Principal& p) { return UpdateCluster(q, p); });
      r.Add("DELETE", prefix + "/:id", Access::For(scope, root), "Delete a cluster",
            [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              Status s = id.ok() ? clusters_.Delete(*id) : id.status();
              return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
            });
    }

    // Applications.
    r.Add("POST", "/api/v1/applications", Access::Root(),
          "Create an application {name, url, bio, priority}",
          [this](HttpRequest& q, const Principal& p) {
            auto body = ParseBody(q);
            Status s = body.ok() ? ValidateApplication(*body, true) : body.status();
            if (!s.ok()) {
              return ErrorOf(s);
            }
            auto app = store_->CreateApplication(*body, p.user_id);
            return app.ok() ? HttpResponse::Json(200, *app) : ErrorOf(app.status());
          });
    r.Add("GET", "/api/v1/applications", Access::User(), "List applications",
          [this](HttpRequest&, const Principal&) {
            auto apps = store_->ListApplications();
            return apps.ok() ? HttpResponse::Json(200, *apps) : ErrorOf(apps.status());
          });
    r.Add("GET", "/api/v1/applications/:id", Access::User(), "Get an application",
          [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            auto app = id.ok() ? store_->GetApplication(*id) : StatusOr<json>(id.status());
            return app.ok() ? HttpResponse::Json(200, *app) : ErrorOf(app.status());
          });
    r.Add("PATCH", "/api/v1/applications/:id", Access::Root(), "Update an application",
          [this](HttpRequest& q, const Principal&) {
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
          });
    r.Add("DELETE", "/api/v1/applications/:id", Access::Root(), "Delete an application",
          [this](HttpRequest& q, const Principal&) {
            auto id = IdParam(q);
            Status s = id.ok() ? store_->DeleteApplication(*id) : id.status();
            return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
          });

    // Components.
    struct Kind {
      const char* path;
      ComponentType type;
      const char* summary;
    };
    for (const Kind& k : {Kind{"/api/v1/schedulers", ComponentType::kScheduler,
                               "List schedulers (?state=active|inactive)"},
                          Kind{"/api/v1/seed-peers", ComponentType::kSeedPeer,
                               "List seed peers (?state=active|inactive)"},
                          Kind{"/api/v1/peers", ComponentType::kPeer,
                               "List the daemons seen asking for schedulers"}}) {
      const ComponentType t = k.type;
      if (t != ComponentType::kPeer) {
        r.Add("DELETE", std::string(k.path) + "/:id", Access::Root(),
              "Forget an inactive instance (409 while it is active)",
              [this, t](HttpRequest& q, const Principal&) {
                auto id = IdParam(q);
                Status s = id.ok() ? clusters_.ForgetInactive(t, *id) : id.status();
                return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
              });
      }
      r.Add("GET", k.path, Access::User(), k.summary, [this, t](HttpRequest& q, const Principal&) {
        auto state = ParseComponentState(q.query.count("state") ? q.query.at("state") : "");
        auto rows = state.ok() ? clusters_.Components(t, *state)
                               : StatusOr<std::vector<ComponentRow>>(state.status());
        if (!rows.ok()) {
          return ErrorOf(rows.status());
        }
        json out = json::array();
        for (const auto& c : *rows) {
          out.push_back(c.ToJson());
        }
        return HttpResponse::Json(200, out);
      });
    }
  }

 private:
  Store* store_;  // applications (kept as JSON: Dragonfly's free-form priority rules)
  ClusterService clusters_;
};

}  // namespace

void AddClusterRoutes(ApiRoutes& r, ApiContext* ctx) {
  auto c = std::make_shared<ClusterRoutes>(ctx);
  c->Register(r);
  r.Keep(c);
}

}  // namespace df::manager
