// What the manager's REST handlers share (api.cc and the route files beside it): the caller,
// errors as HTTP answers, JSON bodies and parameters.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "dragonfly/common/status.h"
#include "manager/http_server.h"

namespace df::manager {

using nlohmann::json;

// Who is calling, once authenticated.
struct Principal {
  int64_t user_id = 0;
  std::string name;
  std::string role;  // root, guest; "anonymous" when open API access is anonymous
};

// A handler that needs an authenticated caller.
using AuthedHandler = std::function<HttpResponse(HttpRequest&, const Principal&)>;

int HttpStatusOf(const Status& s);
// The HTTP answer to an error: its status code and message (a 429 with Retry-After; 500 and 503
// logged and answered without details).
HttpResponse ErrorOf(const Status& s);
// The body as a JSON object, or InvalidArgument.
StatusOr<json> ParseBody(const HttpRequest& req);
// A decimal ID path parameter.
StatusOr<int64_t> IdParam(const HttpRequest& req, const char* name = "id");
// A string field of `j`, "" when absent or not a string.
std::string StrField(const json& j, const char* key);
// `min` to 191 characters of [A-Za-z0-9_.-].
bool ValidName(const std::string& n, size_t min = 1);
// Fails naming the first of `keys` present in `body` with a JSON type other than `want`.
Status CheckTypes(const json& body, std::initializer_list<const char*> keys, json::value_t want,
                  const char* what);

}  // namespace df::manager
