#include "manager/registry/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>

#include "backend/error_mapping.h"
#include "backend/response_headers.h"
#include "backend/tls.h"
#include "backend/url_util.h"
#include "dragonfly/common/strings.h"
#include "manager/registry/challenge.h"
#include "manager/registry/manifest.h"

namespace df::manager::registry {
namespace {

constexpr size_t kMaxTokenBytes = 1 << 20;
constexpr size_t kMaxErrorBodyBytes = 64 * 1024;
constexpr int64_t kMaxBackoffMs = 5000;
constexpr size_t kMaxDetailChars = 200;

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool ValidHeaderName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != ':';
  });
}

// Printable ASCII of `s`, at most kMaxDetailChars: registry text going into an error message.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxDetailChars)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 32 && u < 127) ? c : ' ';
  }
  return out;
}

// The reason an error body gives: "CODE: message" of a registry's {"errors": [...]}, or
// "error: error_description" of a token server's OAuth2-style answer; "" otherwise.
std::string ErrorDetail(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return {};
  }
  auto text = [](const nlohmann::json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto errors = json.find("errors");
  if (errors != json.end() && errors->is_array() && !errors->empty() &&
      errors->front().is_object()) {
    std::string code = text(errors->front(), "code");
    std::string message = text(errors->front(), "message");
    return Printable(code.empty() ? message : message.empty() ? code : code + ": " + message);
  }
  std::string error = text(json, "error");
  std::string description = text(json, "error_description");
  if (description.empty()) {
    description = text(json, "details");
  }
  return Printable(error.empty()         ? description
                   : description.empty() ? error
                                         : error + ": " + description);
}

// "<who> returned <status> for <url>[ (<detail>)]".
std::string Describe(const std::string& who, int status, const std::string& url,
                     std::string_view body) {
  std::string out = who + " returned " + std::to_string(status) + " for " + url;
  if (std::string detail = ErrorDetail(body); !detail.empty()) {
    out += " (" + detail + ")";
  }
  return out;
}

Status StatusForHttp(int status, std::string message) {
  switch (status) {
    case 401:
      return {StatusCode::kUnauthenticated, std::move(message)};
    case 403:
      return PermissionDenied(std::move(message));
    case 404:
      return NotFound(std::move(message));
    case 429:
      return Unavailable(std::move(message));
    default:
      if (status >= 500) {
        return Unavailable(std::move(message));
      }
      return InvalidArgument(std::move(message));
  }
}

bool Transient(int status) { return status == 408 || status == 429 || status >= 500; }

std::string HeaderLine(const std::string& name, const std::string& value) {
  // curl drops "Name:" with an empty value; "Name;" sends it empty.
  return value.empty() ? name + ";" : name + ": " + value;
}

std::vector<std::string> SplitSpaces(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) {
      j = s.size();
    }
    if (j > i) {
      out.emplace_back(s.substr(i, j - i));
    }
    i = j + 1;
  }
  return out;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Options of one GET on a reset handle: protocols, redirects, TLS, timeouts bounded by the
// `remaining_ms` of the resolution.
CURLcode ConfigureGet(CURL* curl, const backend::HttpOptions& options, const std::string& url,
                      int64_t remaining_ms) {
  CURLcode rc = curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  auto set = [&rc](CURLcode r) {
    if (rc == CURLE_OK) {
      rc = r;
    }
  };
  set(curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L));
  set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, options.max_redirects > 0 ? 1L : 0L));
  set(curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects)));
  set(curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str()));
  int64_t connect_ms = std::min<int64_t>(std::max(options.connect_timeout_ms, 1), remaining_ms);
  set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_ms)));
  set(curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining_ms)));
  set(backend::ConfigureTls(curl, options, url));
  return rc;
}

}  // namespace

// The response of one curl_easy_perform, filled by the callbacks.
struct Session::Exchange {
  backend::ResponseHeaders headers;
  std::string body;
  size_t max_body = 0;
  bool too_large = false;

  static size_t OnHeader(char* data, size_t size, size_t nitems, void* self) {
    auto* e = static_cast<Exchange*>(self);
    if (!e->headers.AddLine(std::string_view(data, size * nitems))) {
      return 0;
    }
    return size * nitems;
  }

  static size_t OnBody(char* data, size_t size, size_t nmemb, void* self) {
    auto* e = static_cast<Exchange*>(self);
    size_t n = size * nmemb;
    int status = e->headers.status();
    if (status >= 200 && status <= 299) {
      if (e->body.size() + n > e->max_body) {
        e->too_large = true;
        return 0;
      }
      e->body.append(data, n);
    } else if (e->body.size() < kMaxErrorBodyBytes) {
      e->body.append(data, std::min(n, kMaxErrorBodyBytes - e->body.size()));
    }
    return n;
  }
};

StatusOr<std::unique_ptr<Session>> Session::Create(const ResolveRequest& request,
                                                   const ManifestUrl& target) {
  if (request.timeout_s <= 0) {
    return InvalidArgument("timeout must be positive, got " + std::to_string(request.timeout_s));
  }
  HeaderList caller;
  std::string authorization;
  bool has_authorization = false;
  for (const auto& [name, value] : request.headers) {
    if (!ValidHeaderName(name)) {
      return InvalidArgument("invalid request header name \"" + Printable(name) + "\"");
    }
    // The value is never echoed: it may carry credentials.
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return InvalidArgument("invalid value for request header " + name);
    }
    if (EqualsIgnoreCase(name, "Authorization")) {
      if (has_authorization) {
        return InvalidArgument("more than one Authorization header");
      }
      has_authorization = true;
      authorization = value;
    } else if (!EqualsIgnoreCase(name, "Accept")) {  // ours
      caller.emplace_back(name, value);
    }
  }
  std::string basic;
  bool basic_from_caller = false;
  if (!request.username.empty() || !request.password.empty()) {
    if (request.username.empty()) {
      return InvalidArgument("a password was given without a username");
    }
    if (request.username.find(':') != std::string::npos) {
      return InvalidArgument("a username must not contain ':'");
    }
    basic = BasicAuthorization(request.username, request.password);
  } else if (StartsWithIgnoreCase(authorization, "Basic ")) {
    basic = authorization;
    basic_from_caller = true;
  }

  if (CURLcode rc = backend::GlobalCurlInit(); rc != CURLE_OK) {
    return Internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return ResourceExhausted("curl_easy_init failed");
  }
  std::unique_ptr<Session> session(new Session(request, target, curl));
  session->caller_headers_ = std::move(caller);
  session->authorization_ = std::move(authorization);
  session->basic_ = std::move(basic);
  session->basic_from_caller_ = basic_from_caller;
  session->caller_authorization_ = has_authorization;
  return session;
}

Session::Session(const ResolveRequest& request, const ManifestUrl& target, CURL* curl)
    : options_(request.tls),
      repository_(target.repository),
      username_(request.username),
      timeout_s_(request.timeout_s),
      curl_(curl),
      deadline_(Clock::now() + std::chrono::seconds(request.timeout_s)) {}

Session::~Session() { curl_easy_cleanup(curl_); }

Status Session::DeadlineError() const {
  return DeadlineExceeded("timed out after " + std::to_string(timeout_s_) + " s");
}

StatusOr<Session::Response> Session::Get(const std::string& url,
                                         const std::vector<std::string>& header_lines,
                                         size_t max_body) {
  const std::string shown_url = backend::RedactUrl(url);
  SlistPtr list;
  for (const auto& line : header_lines) {
    curl_slist* appended = curl_slist_append(list.get(), line.c_str());
    if (appended == nullptr) {
      return ResourceExhausted("curl_slist_append failed");
    }
    (void)list.release();
    list.reset(appended);
  }
  const int max_retries = std::max(options_.max_retries, 0);
  Status last_error;
  for (int attempt = 0;; ++attempt) {
    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
    if (remaining <= 0) {
      return last_error.ok() ? DeadlineError()
                             : DeadlineExceeded(DeadlineError().message() +
                                                "; last error: " + last_error.message());
    }
    Exchange exchange;
    exchange.max_body = max_body;
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_reset(curl_);  // keeps the connection cache
    CURLcode rc = ConfigureGet(curl_, options_, url, remaining);
    auto set = [&rc](CURLcode r) {
      if (rc == CURLE_OK) {
        rc = r;
      }
    };
    set(curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list.get()));
    set(curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Exchange::OnHeader));
    set(curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &exchange));
    set(curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Exchange::OnBody));
    set(curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &exchange));
    set(curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer));
    if (rc != CURLE_OK) {
      return Internal(std::string("configuring curl: ") + curl_easy_strerror(rc));
    }
    rc = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
    if (exchange.too_large) {
      return ResourceExhausted("the response from " + shown_url + " is larger than " +
                               std::to_string(max_body) + " bytes");
    }
    int status = exchange.headers.status();
    spdlog::debug("registry GET url={} status={} curl={}", shown_url, status, static_cast<int>(rc));
    bool retry = false;
    if (rc != CURLE_OK) {
      backend::MappedError mapped = backend::MapCurlCode(rc, error_buffer, shown_url);
      // Requests are bounded by the time left, so a timeout this close to the deadline is the
      // deadline's; an earlier one is a connect timeout, retried like other network failures.
      if (mapped.timed_out && Clock::now() + std::chrono::milliseconds(100) >= deadline_) {
        return DeadlineExceeded(DeadlineError().message() + ": " + mapped.status.message());
      }
      if (!mapped.retryable || attempt >= max_retries) {
        if (mapped.retryable) {
          std::string attempts = " (after " + std::to_string(attempt + 1) + " attempts)";
          return Status(mapped.timed_out ? StatusCode::kDeadlineExceeded : StatusCode::kUnavailable,
                        mapped.status.message() + attempts);
        }
        return mapped.status;
      }
      last_error = mapped.status;
      retry = true;
    } else if (status == 0) {
      return Unavailable("no HTTP status line from " + shown_url);
    } else if (Transient(status) && attempt < max_retries) {
      last_error = Unavailable(Describe("server", status, shown_url, exchange.body));
      retry = true;
    }
    if (retry) {
      int64_t delay_ms = std::max(options_.retry_backoff_ms, 0);
      for (int i = 0; i < attempt && delay_ms < kMaxBackoffMs; ++i) {
        delay_ms *= 2;
      }
      delay_ms = std::min(delay_ms, kMaxBackoffMs);
      if (Clock::now() + std::chrono::milliseconds(delay_ms) >= deadline_) {
        return DeadlineExceeded(DeadlineError().message() +
                                "; last error: " + last_error.message());
      }
      spdlog::warn("registry request retry url={} attempt={} delay_ms={} error=\"{}\"", shown_url,
                   attempt + 1, delay_ms, last_error.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      continue;
    }
    Response response;
    response.status = status;
    response.body = std::move(exchange.body);
    response.content_type = exchange.headers.Get("Content-Type").value_or("");
    response.docker_content_digest = exchange.headers.Get("Docker-Content-Digest").value_or("");
    response.www_authenticate = exchange.headers.Get("WWW-Authenticate").value_or("");
    return response;
  }
}

std::vector<std::string> Session::RegistryHeaderLines() const {
  std::vector<std::string> lines;
  for (const auto& [name, value] : caller_headers_) {
    lines.push_back(HeaderLine(name, value));
  }
  if (!authorization_.empty()) {
    lines.push_back("Authorization: " + authorization_);
  }
  lines.push_back("Accept: " + ManifestAccept());
  return lines;
}

HeaderList Session::BlobHeaders() const {
  HeaderList out = caller_headers_;
  if (!authorization_.empty()) {
    out.emplace_back("Authorization", authorization_);
  }
  return out;
}

std::string Session::CredentialsHint() const {
  if (!basic_.empty()) {
    return basic_from_caller_ ? "tried the Basic credentials of the Authorization header"
                              : "tried the credentials of user \"" + Printable(username_) + "\"";
  }
  return caller_authorization_ ? "tried the given Authorization header, then anonymous access"
                               : "tried anonymous access (no credentials given)";
}

StatusOr<Session::Response> Session::GetManifest(const std::string& url, size_t max_body) {
  const std::string shown_url = backend::RedactUrl(url);
  bool authorized = false;
  while (true) {
    DF_ASSIGN_OR_RETURN(Response r, Get(url, RegistryHeaderLines(), max_body));
    if (r.status >= 200 && r.status <= 299) {
      return r;
    }
    if (r.status == 401 && !authorized) {
      authorized = true;
      DF_RETURN_IF_ERROR(Authorize(shown_url, r.www_authenticate));
      continue;
    }
    std::string message = Describe("registry", r.status, shown_url, r.body);
    if (r.status == 401) {
      message += ": " + CredentialsHint();
    } else if (r.status == 403) {
      message += ": access forbidden";
    }
    return StatusForHttp(r.status, message);
  }
}

Status Session::Authorize(const std::string& url, const std::string& www_authenticate) {
  std::vector<Challenge> challenges = ParseWwwAuthenticate(www_authenticate);
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && bearer == nullptr && !c.Param("realm").empty()) {
      bearer = &c;
    } else if (c.scheme == "basic" && basic == nullptr) {
      basic = &c;
    }
  }
  if (bearer != nullptr) {
    std::string realm = bearer->Param("realm");
    if (!backend::HasHttpScheme(realm)) {
      return {StatusCode::kUnauthenticated, "registry returned 401 for " + url +
                                                " with a token realm that is not an http(s) URL"};
    }
    std::vector<std::string> scopes = SplitSpaces(bearer->Param("scope"));
    if (scopes.empty()) {
      scopes.push_back("repository:" + repository_ + ":pull");
    }
    return FetchToken(realm, bearer->Param("service"), scopes);
  }
  if (basic != nullptr) {
    if (basic_.empty()) {
      return {StatusCode::kUnauthenticated,
              "registry returned 401 for " + url +
                  " asking for Basic credentials, and no username/password nor Basic "
                  "Authorization header was given"};
    }
    if (authorization_ == basic_) {
      return {StatusCode::kUnauthenticated,
              "registry returned 401 for " + url + ": " + CredentialsHint()};
    }
    authorization_ = basic_;
    return Status::Ok();
  }
  return {StatusCode::kUnauthenticated,
          "registry returned 401 for " + url + " without a Bearer or Basic challenge"};
}

Status Session::FetchToken(const std::string& realm, const std::string& service,
                           const std::vector<std::string>& scopes) {
  const std::string shown_realm = backend::RedactUrl(realm);
  std::vector<std::string> lines;
  if (!basic_.empty()) {
    lines.push_back("Authorization: " + basic_);
  }
  DF_ASSIGN_OR_RETURN(Response r,
                      Get(TokenRequestUrl(realm, service, scopes), lines, kMaxTokenBytes));
  if (r.status != 200) {
    std::string message = Describe("token server", r.status, shown_realm, r.body);
    if (r.status == 401 || r.status == 403) {
      message += ": " + CredentialsHint();
    }
    return StatusForHttp(r.status, message);
  }
  StatusOr<Token> token = ParseTokenResponse(r.body);
  if (!token.ok()) {
    return token.status().Annotate("token server " + shown_realm);
  }
  authorization_ = "Bearer " + token->token;
  token_expires_in_s_ = token->expires_in_s;
  return Status::Ok();
}

}  // namespace df::manager::registry
