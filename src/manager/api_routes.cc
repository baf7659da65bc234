#include "manager/api_routes.h"

#include <algorithm>

namespace df::manager {

void ApiRoutes::Add(const std::string& method, const std::string& pattern, Access access,
                    std::string summary, AuthedHandler fn) {
  docs_.push_back({method, pattern, access, std::move(summary)});
  std::string scope = access.kind == Access::Kind::kToken ? access.scope : "";
  bool root = access.root;
  router_->Add(method, pattern, [this, scope, root, fn = std::move(fn)](HttpRequest& req) {
    auto who = auth_->Authenticate(req, scope);
    if (!who.ok()) {
      HttpResponse r = ErrorOf(who.status());
      if (r.status == 401) {
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"dragonfly\"");
      }
      return r;
    }
    if (root && who->role != "root") {
      return HttpResponse::Error(403, "this needs the root role");
    }
    return fn(req, *who);
  });
}

void ApiRoutes::AddOpen(const std::string& method, const std::string& pattern, std::string summary,
                        HttpHandler fn) {
  docs_.push_back({method, pattern, Access::Open(), std::move(summary)});
  router_->Add(method, pattern, std::move(fn));
}

nlohmann::json ApiRoutes::OpenApi() const {
  using nlohmann::json;
  json paths = json::object();
  for (const Doc& d : docs_) {
    std::string path;  // /users/:id -> /users/{id}
    json params = json::array();
    size_t i = 0;
    while (i < d.pattern.size()) {
      size_t end = d.pattern.find('/', i + 1);
      std::string seg = d.pattern.substr(i, end == std::string::npos ? end : end - i);
      if (seg.size() > 1 && seg[1] == ':') {
        std::string name = seg.substr(2);
        path += "/{" + name + "}";
        params.push_back(
            {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
      } else {
        path += seg;
      }
      i = end == std::string::npos ? d.pattern.size() : end;
    }
    std::string method = d.method;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string summary = d.summary;
    if (d.access.root) {
      summary += " (root)";
    }
    json op = {{"summary", summary}, {"responses", {{"200", {{"description", "OK"}}}}}};
    if (!params.empty()) {
      op["parameters"] = params;
    }
    switch (d.access.kind) {
      case Access::Kind::kOpen:
        break;
      case Access::Kind::kSession:
        op["security"] = json::array({{{"jwt", json::array()}}, {{"basic", json::array()}}});
        break;
      case Access::Kind::kToken:
        op["security"] =
            json::array({{{"pat", json::array({d.access.scope})}}, {{"basic", json::array()}}});
        break;
    }
    paths[path][method] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Dragonfly manager API"}, {"version", "1"}}},
          {"components",
           {{"securitySchemes",
             {{"jwt", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
              {"pat", {{"type", "http"}, {"scheme", "bearer"}}},
              {"basic", {{"type", "http"}, {"scheme", "basic"}}}}}}},
          {"paths", paths}};
}

}  // namespace df::manager
