#include "dragonfly/backend/hub.h"

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "backend/listing.h"
#include "backend/sigv4.h"
#include "backend/url_util.h"
#include "dragonfly/common/file.h"
#include "dragonfly/common/strings.h"

namespace df::backend {
namespace {

constexpr char kDefaultEndpoint[] = "https://huggingface.co";
constexpr size_t kMaxApiAnswer = 8u << 20;  // bytes of one revision or tree page answer
constexpr int kMaxTreePages = 10000;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Owner and repository names as the hub allows them: letters, digits, '-', '_', '.', not "."
// or "..", at most 96 characters.
bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 96 || s == "." || s == "..") {
    return false;
  }
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

// A path or revision as it goes into an hf:// URL: what would end the path or start an escape
// is escaped (ParseHubUrl decodes it again).
std::string ForHfUrl(std::string_view s, bool keep_slash) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || c == '&' || c == '+' || u <= ' ' || u == 0x7f ||
        (c == '/' && !keep_slash)) {
      out += sigv4::UriEncode(std::string_view(&c, 1), false);
    } else {
      out += c;
    }
  }
  return out;
}

class HubBackend : public HttpBackend {
 public:
  HubBackend(HttpBackend& http, HubOptions o) : http_(http), o_(std::move(o)) {
    if (o_.endpoint.empty()) {
      o_.endpoint = kDefaultEndpoint;
    }
    while (!o_.endpoint.empty() && o_.endpoint.back() == '/') {
      o_.endpoint.pop_back();
    }
  }

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char* data, size_t n)>& on_data) override {
    DF_ASSIGN_OR_RETURN(HubLocation l, ParseHubUrl(request.url));
    if (l.path.empty()) {
      return InvalidArgument("hf URL " + RedactUrl(request.url) +
                             " names a repository, not a file: download it with -r");
    }
    FetchRequest r = request;
    r.url = Base(l) + "/resolve/" + sigv4::UriEncode(l.revision, false) + "/" +
            sigv4::UriEncode(l.path, true);
    AddToken(&r.headers);
    return http_.Fetch(r, on_response, on_data);
  }

  // The files under the URL's path at the commit its revision names, as hf:// URLs pinned to
  // that commit.
  StatusOr<std::vector<ListedObject>> List(const FetchRequest& where, size_t max) override {
    const std::string& url = where.url;
    DF_ASSIGN_OR_RETURN(HubLocation l, ParseHubUrl(url));
    FetchRequest r;
    r.headers = where.headers;
    AddToken(&r.headers);
    r.url = o_.endpoint + "/api/" + l.kind + "/" + l.repo + "/revision/" +
            sigv4::UriEncode(l.revision, false);
    DF_ASSIGN_OR_RETURN(std::string answer,
                        FetchSmallBody(http_, r, kMaxApiAnswer, "the hub's revision answer"));
    nlohmann::json rev = nlohmann::json::parse(answer, nullptr, false);
    if (!rev.is_object() || !rev.contains("sha") || !rev["sha"].is_string()) {
      return Unavailable("the hub's answer for revision '" + l.revision + "' of " + l.repo +
                         " has no commit sha");
    }
    HubLocation pinned = l;
    pinned.revision = rev["sha"].get<std::string>();
    if (pinned.revision.empty() || pinned.revision.size() > 64 ||
        pinned.revision.find_first_of("/?#% ") != std::string::npos) {
      return Unavailable("the hub answered an unusable commit for " + l.repo);
    }
    std::string prefix = l.path.empty() ? "" : l.path + "/";
    r.url = o_.endpoint + "/api/" + l.kind + "/" + l.repo + "/tree/" + pinned.revision +
            (l.path.empty() ? "" : "/" + sigv4::UriEncode(l.path, false)) +
            "?recursive=true&expand=false";
    std::vector<ListedObject> out;
    for (int page = 0; !r.url.empty(); ++page) {
      if (page == kMaxTreePages) {
        return ResourceExhausted("the hub's listing of " + l.repo + " does not end");
      }
      ResponseInfo info;
      DF_ASSIGN_OR_RETURN(std::string body, FetchSmallBody(http_, r, kMaxApiAnswer,
                                                           "a tree page of " + l.repo, &info));
      nlohmann::json items = nlohmann::json::parse(body, nullptr, false);
      if (!items.is_array()) {
        return Unavailable("the hub's tree listing of " + l.repo + " is not a JSON array");
      }
      for (const auto& item : items) {
        if (!item.is_object() || item.value("type", "") != "file" || !item.contains("path") ||
            !item["path"].is_string()) {
          continue;  // directories (the listing is recursive)
        }
        const std::string path = item["path"].get<std::string>();
        if (path.rfind(prefix, 0) != 0 || !SafeRelativePath(path.substr(prefix.size()))) {
          return InvalidArgument("file '" + path + "' of " + l.repo +
                                 " cannot be a file under the output directory");
        }
        if (out.size() == max) {
          return ResourceExhausted("more than " + std::to_string(max) + " files in " + l.repo);
        }
        pinned.path = path;
        ListedObject o;
        o.url = HubUrl(pinned);
        o.path = path.substr(prefix.size());
        o.size = item.contains("size") && item["size"].is_number_integer()
                     ? item["size"].get<int64_t>()
                     : -1;
        out.push_back(std::move(o));
      }
      r.url = info.next_page;
      if (!r.url.empty() && r.url.rfind(o_.endpoint + "/", 0) != 0) {
        return Unavailable("the hub's next tree page points at another server");
      }
    }
    return out;
  }

 private:
  std::string Base(const HubLocation& l) const {
    return o_.endpoint + "/" + (l.kind == "models" ? "" : l.kind + "/") + l.repo;
  }

  void AddToken(std::map<std::string, std::string>* headers) const {
    for (const auto& [k, v] : *headers) {
      if (EqualsIgnoreCase(k, "Authorization")) {
        return;  // the request's own (dfget --hf-token) wins
      }
    }
    if (!o_.token.empty()) {
      (*headers)["Authorization"] = "Bearer " + o_.token;
    }
  }

  HttpBackend& http_;
  HubOptions o_;
};

}  // namespace

void FillHubOptionsFromEnvironment(HubOptions* o) {
  if (o->endpoint.empty()) {
    o->endpoint = Env("HF_ENDPOINT");
  }
  if (o->token.empty()) {
    o->token = Env("HF_TOKEN").empty() ? Env("HUGGING_FACE_HUB_TOKEN") : Env("HF_TOKEN");
  }
}

Status ValidateHubOptions(const HubOptions& o) {
  if (!o.endpoint.empty()) {
    DF_RETURN_IF_ERROR(ParseEndpoint(o.endpoint, "hub endpoint", false).status());
  }
  if (o.token.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return InvalidArgument("hub token: contains a line break");
  }
  return Status::Ok();
}

StatusOr<HubLocation> ParseHubUrl(const std::string& url) {
  const std::string want =
      "hf URL " + RedactUrl(url) + ": want hf://[datasets/|spaces/]owner/repo[/path][?revision=R]";
  if (url.rfind("hf://", 0) != 0) {
    return InvalidArgument(want);
  }
  std::string rest = url.substr(5);
  HubLocation l;
  l.revision = "main";
  if (size_t q = rest.find('?'); q != std::string::npos) {
    for (const std::string& kv : Split(rest.substr(q + 1), '&')) {
      if (kv.rfind("revision=", 0) == 0 && kv.size() > 9) {
        l.revision = sigv4::PercentDecode(kv.substr(9));
      } else if (!kv.empty()) {
        return InvalidArgument(want + " (unknown parameter '" + kv.substr(0, kv.find('=')) + "')");
      }
    }
    rest.resize(q);
  }
  std::vector<std::string> parts = Split(rest, '/');
  l.kind = "models";
  size_t at = 0;
  if (!parts.empty() && (parts[0] == "models" || parts[0] == "datasets" || parts[0] == "spaces")) {
    l.kind = parts[0];
    at = 1;
  }
  if (parts.size() < at + 2 || !ValidName(parts[at]) || !ValidName(parts[at + 1])) {
    return InvalidArgument(want);
  }
  l.repo = parts[at] + "/" + parts[at + 1];
  if (parts.size() > at + 2 && parts.back().empty()) {
    parts.pop_back();  // "hf://owner/repo/dir/": a trailing slash
  }
  for (size_t i = at + 2; i < parts.size(); ++i) {
    l.path += (i == at + 2 ? "" : "/") + sigv4::PercentDecode(parts[i]);
  }
  if (!l.path.empty() && !SafeRelativePath(l.path)) {
    return InvalidArgument(want + " (the path leaves the repository)");
  }
  if (l.revision.empty() || l.revision.size() > 256 ||
      l.revision.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return InvalidArgument(want + " (bad revision)");
  }
  return l;
}

std::string HubUrl(const HubLocation& l) {
  std::string url = "hf://" + (l.kind == "models" ? "" : l.kind + "/") + l.repo;
  if (!l.path.empty()) {
    url += "/" + ForHfUrl(l.path, true);
  }
  if (l.revision != "main") {
    url += "?revision=" + ForHfUrl(l.revision, false);
  }
  return url;
}

std::unique_ptr<HttpBackend> NewHubBackend(HttpBackend& http, HubOptions o) {
  return std::make_unique<HubBackend>(http, std::move(o));
}

}  // namespace df::backend
