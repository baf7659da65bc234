// A small HTTP/1.1 server for the manager's REST API: a router of (method, path pattern) to
// handlers, JSON bodies, bounded request sizes. One thread per connection (bounded); handlers
// block and must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::manager {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // without the query
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> params;   // ":name" segments of the matched pattern
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;

  std::string Header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(int status, const nlohmann::json& body);
  // {"message": message} with `status`.
  static HttpResponse Error(int status, const std::string& message);
};

using HttpHandler = std::function<HttpResponse(HttpRequest&)>;

class HttpRouter {
 public:
  // `pattern` segments starting with ':' capture; a trailing "*" matches the rest. Routes are
  // tried in the order added. A path that only a wildcard route of another method matches is a
  // 404, not a 405.
  void Add(const std::string& method, const std::string& pattern, HttpHandler handler);
  HttpResponse Dispatch(HttpRequest& req) const;
  // Called after each dispatch with the request, its answer's status and the seconds it took.
  using Observer = std::function<void(const HttpRequest&, int status, double seconds)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // Keeps `owner` (the object the handlers point into) alive as long as the router.
  void Keep(std::shared_ptr<void> owner) { owned_.push_back(std::move(owner)); }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    HttpHandler handler;
  };
  HttpResponse Match(HttpRequest& req) const;

  std::vector<Route> routes_;
  std::vector<std::shared_ptr<void>> owned_;
  Observer observer_;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  virtual uint16_t port() const = 0;
  virtual void Stop() = 0;
};

// Listens on `listen` ("host:port"); requests with bodies over `max_body` get 413; a connection
// that sends no complete request header for `request_timeout` (idle keep-alive included) is
// closed.
StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(
    const std::string& listen, const HttpRouter* router, uint64_t max_body,
    uint32_t max_connections = 256,
    std::chrono::milliseconds request_timeout = std::chrono::seconds(30));

}  // namespace df::manager
