// HTTP authentication challenges (RFC 7235 WWW-Authenticate) as registries send them, and the
// pieces of the Docker token flow that are pure functions: the token request URL and the token
// response.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::manager::registry {

struct Challenge {
  std::string scheme;                         // lower-case: "bearer", "basic", ...
  std::map<std::string, std::string> params;  // auth-param names lower-case, values unquoted
  std::string token68;                        // the other form of credentials, rarely used

  // Value of param `name` (lower-case), "" when absent.
  std::string Param(const std::string& name) const;
};

// Parses one WWW-Authenticate header value, which may hold several comma-separated challenges:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="a:b:pull"
// Quoted values may contain commas and backslash escapes; names are case-insensitive. Parses as
// much as it can of a malformed value (never fails).
std::vector<Challenge> ParseWwwAuthenticate(std::string_view value);

// The token request: realm + "?service=...&scope=...&scope=..." ('&' when the realm already has
// a query), values percent-encoded. Empty service / scopes are left out.
std::string TokenRequestUrl(std::string_view realm, std::string_view service,
                            const std::vector<std::string>& scopes);

struct Token {
  std::string token;
  int64_t expires_in_s = 0;  // 0 when the server did not say
};

// Parses a token server answer: {"token": ...} or {"access_token": ...} (OAuth2 style), with an
// optional "expires_in". InvalidArgument when neither token is present.
StatusOr<Token> ParseTokenResponse(std::string_view body);

// "Basic " + base64(username ":" password).
std::string BasicAuthorization(std::string_view username, std::string_view password);

}  // namespace df::manager::registry
