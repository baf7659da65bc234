// One image resolution's conversation with a registry: GETs over one libcurl handle (connections
// kept alive between the manifest, token and child manifest requests), the caller's headers and
// credentials, the authorization obtained so far and the deadline of the whole resolution.
//
// Authorization follows the distribution spec: on a 401 the WWW-Authenticate challenge is
// answered once per request, `Bearer` with the Docker token flow (Basic-authenticated at the
// realm with username/password or the caller's `Authorization: Basic`, anonymous otherwise),
// `Basic` with the credentials. Credentials and tokens never reach logs or error messages.
//
// Thread-compatible: one Session belongs to one ResolveImage call.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/manager/registry.h"
#include "manager/registry/reference.h"

namespace df::manager::registry {

class Session {
 public:
  struct Response {
    int status = 0;
    std::string body;
    std::string content_type;
    std::string docker_content_digest;  // "" when the registry did not send one
    std::string www_authenticate;       // of a 401
  };

  // Validates the caller's headers and credentials (InvalidArgument). `target` names the
  // repository a default token scope is asked for.
  static StatusOr<std::unique_ptr<Session>> Create(const ResolveRequest& request,
                                                   const ManifestUrl& target);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // GETs the manifest at `url` (on the target registry) with the manifest Accept header,
  // answering a 401 challenge once. Returns only a 2xx response; other statuses become errors
  // (see ResolveImage). A body over `max_body` bytes is ResourceExhausted.
  StatusOr<Response> GetManifest(const std::string& url, size_t max_body);

  // The headers that authorize blob GETs on the target registry.
  HeaderList BlobHeaders() const;
  int64_t token_expires_in_s() const { return token_expires_in_s_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Exchange;

  Session(const ResolveRequest& request, const ManifestUrl& target, CURL* curl);

  // One GET with retries of transient failures (network, 429, 5xx) until the deadline. Returns
  // the final response whatever its status; only network failures and timeouts are errors.
  StatusOr<Response> Get(const std::string& url, const std::vector<std::string>& header_lines,
                         size_t max_body);
  // Answers the challenge of a 401 response to `url`: sets authorization_ or fails.
  Status Authorize(const std::string& url, const std::string& www_authenticate);
  Status FetchToken(const std::string& realm, const std::string& service,
                    const std::vector<std::string>& scopes);
  // Why a 401 persisted after Authorize: which credentials were tried.
  std::string CredentialsHint() const;
  std::vector<std::string> RegistryHeaderLines() const;
  Status DeadlineError() const;

  backend::HttpOptions options_;
  std::string repository_;
  std::string username_;
  long timeout_s_;
  CURL* curl_;
  Clock::time_point deadline_;
  HeaderList caller_headers_;       // without Authorization and Accept
  std::string basic_;               // "Basic ..." for the token server / a Basic challenge, or ""
  std::string authorization_;       // Authorization sent to the registry, or ""
  bool basic_from_caller_ = false;  // basic_ is the caller's Authorization header
  bool caller_authorization_ = false;  // the caller gave an Authorization header
  int64_t token_expires_in_s_ = 0;
};

}  // namespace df::manager::registry
