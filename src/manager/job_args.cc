// Jobs' args: checked and normalized when a job is created, scrubbed of credentials once it ran,
// and the preheat destination policy (no fetching from the cluster's internal networks).
#include <algorithm>
#include <string_view>

#include "dragonfly/common/net.h"
#include "dragonfly/common/url.h"
#include "manager/job_util.h"
#include "manager/jobs.h"

namespace df::manager {

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> SplitParams(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t amp = std::min(s.find('&', pos), s.size());
    if (amp > pos) {
      out.push_back(s.substr(pos, amp - pos));
    }
    pos = amp + 1;
  }
  return out;
}

bool ValidHttpUrl(const std::string& u) {
  return (u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0) && u.size() < 4096 &&
         u.find_first_of(" \r\n\t") == std::string::npos && u.find("://") + 3 < u.size();
}

// A file preheat's URL: whatever the seed peers fetch (docs/backends.md).
bool ValidFileUrl(const std::string& u) {
  for (const char* scheme : {"s3://", "abs://", "hf://"}) {
    if (u.rfind(scheme, 0) == 0) {
      return u.size() < 4096 && u.find_first_of(" \r\n\t") == std::string::npos &&
             u.size() > std::string_view(scheme).size();
    }
  }
  return ValidHttpUrl(u);
}

Status Field(bool ok, const std::string& message) {
  return ok ? Status::Ok() : InvalidArgument(message);
}

json ScrubbedJobArgs(json args) {
  if (args.contains("password") && args["password"].is_string() &&
      !args["password"].get<std::string>().empty()) {
    args["password"] = "******";
  }
  if (args.contains("headers") && args["headers"].is_object()) {
    // Any header may carry a credential (Authorization, X-Registry-Auth, API keys, ...).
    for (auto& [k, v] : args["headers"].items()) {
      v = "******";
    }
  }
  return args;
}

std::vector<std::string> PreheatUrls(const json& args) {
  std::vector<std::string> out;
  if (Str(args, "type") != "file") {
    out.push_back(Str(args, "url"));
    return out;
  }
  for (const json& u : args.value("urls", json::array())) {
    out.push_back(u.is_string() ? u.get<std::string>() : "");
  }
  return out;
}

Status CheckPreheatDestination(const ManagerConfig::Job& policy, const std::string& url) {
  for (const char* scheme : {"s3://", "abs://", "hf://"}) {
    if (url.rfind(scheme, 0) == 0) {
      return Status::Ok();  // fetched from the seed peers' configured store or hub, not a host
    }  // the URL names
  }
  auto u = ParseUrl(url);
  if (!u.ok()) {
    return u.status();
  }
  std::vector<std::string> ips = {u->host};
  if (!net::IsIpLiteral(u->host)) {
    auto resolved = net::ResolveHost(u->host);
    if (!resolved.ok()) {
      return Status::Ok();
    }
    ips = *resolved;
  }
  auto in = [](const std::string& ip, const std::vector<std::string>& nets) {
    return std::any_of(nets.begin(), nets.end(),
                       [&](const std::string& n) { return net::InCidr(ip, n); });
  };
  for (const auto& ip : ips) {
    if (in(ip, policy.denied_networks) && !in(ip, policy.allowed_networks)) {
      return PermissionDenied("preheat URL host " + u->host + " is " + ip +
                              ", in a network preheat may not reach (job.deniedNetworks; "
                              "job.allowedNetworks allows it)");
    }
  }
  return Status::Ok();
}

StatusOr<json> ValidateJobArgs(const std::string& type, const json& in) {
  if (!in.is_object()) {
    return InvalidArgument("args must be an object");
  }
  json a = in;
  // null means "not given" (the defaults apply).
  for (auto it = a.begin(); it != a.end();) {
    it = it->is_null() ? a.erase(it) : std::next(it);
  }
  auto check_headers = [&]() -> Status {
    if (!a.contains("headers") || a["headers"].is_null()) {
      a["headers"] = json::object();
      return Status::Ok();
    }
    DF_RETURN_IF_ERROR(Field(a["headers"].is_object(), "args.headers must be an object"));
    for (const auto& [k, v] : a["headers"].items()) {
      DF_RETURN_IF_ERROR(Field(v.is_string() && !k.empty() &&
                                   k.find_first_of(" :\r\n") == std::string::npos &&
                                   v.get<std::string>().find_first_of("\r\n") == std::string::npos,
                               "args.headers: bad header " + k));
    }
    return Status::Ok();
  };
  for (const char* key : {"tag", "application", "filtered_query_params", "username", "password",
                          "platform", "scope", "task_id", "url", "type"}) {
    if (a.contains(key) && !a[key].is_null() && !a[key].is_string()) {
      return InvalidArgument(std::string("args.") + key + " must be a string");
    }
  }
  for (const char* key : {"piece_length", "count", "percentage", "timeout", "concurrent_task_count",
                          "concurrent_peer_count", "concurrent_count"}) {
    if (a.contains(key) && !a[key].is_null() && !a[key].is_number_unsigned() &&
        !(a[key].is_number_integer() && a[key].get<int64_t>() >= 0)) {
      return InvalidArgument(std::string("args.") + key + " must be a non-negative integer");
    }
  }
  if (type == "preheat") {
    std::string t = Str(a, "type");
    DF_RETURN_IF_ERROR(Field(t == "image" || t == "file", "args.type must be image or file"));
    DF_RETURN_IF_ERROR(check_headers());
    if (t == "image") {
      DF_RETURN_IF_ERROR(
          Field(ValidHttpUrl(Str(a, "url")), "args.url must be an http(s) image manifest URL"));
      std::string platform = Str(a, "platform");
      if (platform.empty()) {
        a["platform"] = "linux/amd64";
      }
    } else {
      json urls = a.contains("urls") && a["urls"].is_array() ? a["urls"] : json::array();
      if (!Str(a, "url").empty()) {
        urls.push_back(Str(a, "url"));
      }
      DF_RETURN_IF_ERROR(Field(!urls.empty() && urls.size() <= 10000,
                               "args.url or args.urls (1 to 10000) is required"));
      for (const auto& u : urls) {
        DF_RETURN_IF_ERROR(Field(u.is_string() && ValidFileUrl(u.get<std::string>()),
                                 "args.urls: each must be an http(s), s3://, abs:// or hf:// URL"));
      }
      a["urls"] = urls;
    }
    std::string scope = Str(a, "scope");
    if (scope.empty()) {
      a["scope"] = scope = "single_seed_peer";
    }
    DF_RETURN_IF_ERROR(
        Field(scope == "single_seed_peer" || scope == "all_seed_peers" || scope == "all_peers",
              "args.scope must be single_seed_peer, all_seed_peers or all_peers"));
    if (a.contains("piece_length") && !a["piece_length"].is_null() &&
        a["piece_length"].get<uint64_t>() != 0) {
      uint64_t p = a["piece_length"].get<uint64_t>();
      DF_RETURN_IF_ERROR(Field(p >= (4u << 20) && p <= (1024u << 20),
                               "args.piece_length must be between 4 MiB and 1 GiB"));
    }
    if (a.contains("ips") && !a["ips"].is_null()) {
      DF_RETURN_IF_ERROR(Field(a["ips"].is_array() && a["ips"].size() <= 1000 &&
                                   std::all_of(a["ips"].begin(), a["ips"].end(),
                                               [](const json& ip) {
                                                 return ip.is_string() && !ip.empty() &&
                                                        ip.get<std::string>().size() <= 64;
                                               }),
                               "args.ips must be a list of IP addresses"));
    }
    if (a.contains("count") && !a["count"].is_null()) {
      DF_RETURN_IF_ERROR(
          Field(a["count"].get<uint64_t>() <= 100000, "args.count must be at most 100000"));
    }
    if (a.contains("percentage") && !a["percentage"].is_null()) {
      DF_RETURN_IF_ERROR(
          Field(a["percentage"].get<uint64_t>() <= 100, "args.percentage must be 1 to 100"));
    }
    return a;
  }
  if (type == "get_image_distribution") {  // which hosts hold each layer of an image
    DF_RETURN_IF_ERROR(check_headers());
    DF_RETURN_IF_ERROR(
        Field(ValidHttpUrl(Str(a, "url")), "args.url must be an http(s) image manifest URL"));
    if (Str(a, "platform").empty()) {
      a["platform"] = "linux/amd64";
    }
    return a;
  }
  if (type == "get_task" || type == "delete_task") {
    DF_RETURN_IF_ERROR(Field(!Str(a, "task_id").empty() || ValidHttpUrl(Str(a, "url")),
                             "args.task_id or args.url is required"));
    std::string id = Str(a, "task_id");
    DF_RETURN_IF_ERROR(
        Field(id.size() <= 128 && id.find_first_not_of("0123456789abcdef") == std::string::npos,
              "args.task_id must be a hex task ID"));
    return a;
  }
  return InvalidArgument("unknown job type '" + type +
                         "': want preheat, get_task, delete_task or get_image_distribution");
}

}  // namespace df::manager
