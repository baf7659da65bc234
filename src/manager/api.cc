#include "manager/api.h"

#include "manager/api_routes.h"
#include "manager/authenticator.h"
#include "manager/ca_api.h"

namespace df::manager {

void RegisterApi(HttpRouter& router, ApiContext* ctx) {
  auto auth = std::make_shared<Authenticator>(ctx->store, ctx->config, ctx->jwt_key);
  auto routes = std::make_shared<ApiRoutes>(&router, auth.get());
  router.Keep(auth);
  router.Keep(routes);
  auto text = [](const char* body) {
    return [body](HttpRequest&) {
      HttpResponse resp;
      resp.body = body;
      resp.content_type = "text/plain";
      return resp;
    };
  };
  routes->AddOpen("GET", "/healthy", "Health check", text("OK"));
  routes->AddOpen("GET", "/_ping", "Harbor (before 2.12) health check", text("pong"));
  AddUserRoutes(*routes, ctx, auth.get());
  if (ctx->ca != nullptr) {
    AddClusterCaRoutes(*routes, ctx->ca);
  }
  AddClusterRoutes(*routes, ctx);
  AddJobRoutes(*routes, ctx);
  if (ctx->swarm != nullptr) {
    AddSwarmRoutes(*routes, ctx);
  }
  // Filled once every route is in: the document lists exactly what is routed.
  auto doc = std::make_shared<std::string>();
  routes->AddOpen("GET", "/openapi.json", "This document", [doc](HttpRequest&) {
    HttpResponse r;
    r.body = *doc;
    return r;
  });
  *doc = routes->OpenApi().dump();
}

}  // namespace df::manager
