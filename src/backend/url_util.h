// URL helpers for the HTTP backend: scheme checks and credential redaction for logs and errors.
#pragma once

#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::backend {

// True when `url` starts with "http://" or "https://" (case-insensitive scheme).
bool HasHttpScheme(std::string_view url);

// A URL fit for a log line or an error message: the userinfo ("user:password@") becomes "***@"
// and the values of credential query parameters (names containing signature, credential, token,
// secret, password, accesskey, keyid or auth, case-blind, and "sig": presigned S3 / GCS / OSS /
// OBS / COS / Azure URLs, access tokens) become "***". Other URLs are returned unchanged.
std::string RedactUrl(std::string_view url);

// An object store's or a hub's endpoint setting: "http(s)://host[:port]", with a path prefix
// when `allow_path` ("http://127.0.0.1:10000/devstoreaccount1", Azurite's path style).
struct Endpoint {
  std::string scheme;  // http or https
  std::string host;    // host[:port] as written
  std::string path;    // "" or "/prefix" (no trailing slash)
};
// InvalidArgument naming `what` for anything else (user-info, query, fragment, other schemes).
StatusOr<Endpoint> ParseEndpoint(const std::string& endpoint, const std::string& what,
                                 bool allow_path);

}  // namespace df::backend
