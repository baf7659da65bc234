// URL helpers for the HTTP backend: scheme checks and credential redaction for logs and errors.
#pragma once

#include <string>
#include <string_view>

namespace df::backend {

// True when `url` starts with "http://" or "https://" (case-insensitive scheme).
bool HasHttpScheme(std::string_view url);

// Replaces the userinfo part ("user:password@") of the authority with "***@" so a URL can be
// logged or put in an error message. URLs without userinfo are returned unchanged.
std::string RedactUrl(std::string_view url);

}  // namespace df::backend
