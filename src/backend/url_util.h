// URL helpers for the HTTP backend: scheme checks and credential redaction for logs and errors.
#pragma once

#include <string>
#include <string_view>

namespace df::backend {

// True when `url` starts with "http://" or "https://" (case-insensitive scheme).
bool HasHttpScheme(std::string_view url);

// A URL fit for a log line or an error message: the userinfo ("user:password@") becomes "***@"
// and the values of credential query parameters (names containing signature, credential, token,
// secret, password, accesskey, keyid or auth, case-blind, and "sig": presigned S3 / GCS / OSS /
// OBS / COS / Azure URLs, access tokens) become "***". Other URLs are returned unchanged.
std::string RedactUrl(std::string_view url);

}  // namespace df::backend
