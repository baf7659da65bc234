#include "manager/api_util.h"

#include <spdlog/spdlog.h>

namespace df::manager {

int HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpResponse ErrorOf(const Status& s) {
  int code = HttpStatusOf(s);
  if (code == 429) {  // "... retry in N s": the caller's Retry-After
    HttpResponse r = HttpResponse::Error(429, s.message());
    auto in = s.message().rfind("retry in ");
    if (in != std::string::npos) {
      r.headers.emplace_back("Retry-After",
                             std::to_string(std::atoll(s.message().c_str() + in + 9)));
    }
    return r;
  }
  if (code == 500 || code == 503) {
    spdlog::error("manager request failed error=\"{}\"", s.ToString());
    return HttpResponse::Error(code, code == 503 ? "database unavailable" : "internal error");
  }
  return HttpResponse::Error(code, s.message());
}

StatusOr<json> ParseBody(const HttpRequest& req) {
  try {
    json j = json::parse(req.body);
    if (!j.is_object()) {
      return InvalidArgument("request body must be a JSON object");
    }
    return j;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

StatusOr<int64_t> IdParam(const HttpRequest& req, const char* name) {
  const std::string& s = req.params.at(name);
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument(std::string("bad ") + name + " '" + s.substr(0, 32) + "'");
  }
  return std::stoll(s);
}

std::string StrField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Name 3-191 characters of [A-Za-z0-9_.-].
bool ValidName(const std::string& n, size_t min) {
  return n.size() >= min && n.size() <= 191 &&
         n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos;
}

// Fails naming the first of `keys` present in `body` with a JSON type other than `want`.
Status CheckTypes(const json& body, std::initializer_list<const char*> keys, json::value_t want,
                  const char* what) {
  for (const char* k : keys) {
    if (!body.contains(k)) {
      continue;
    }
    const json& v = body[k];
    bool ok = v.type() == want || (want == json::value_t::number_unsigned &&
                                   v.is_number_integer() && v.get<int64_t>() >= 0);
    if (!ok) {
      return InvalidArgument(std::string(k) + " must be " + what);
    }
  }
  return Status::Ok();
}

}  // namespace df::manager
