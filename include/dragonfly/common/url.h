// Absolute http(s) URLs in one normal form, so that what a rule or an allow-list checks is what
// libcurl then fetches: scheme and host lower-case, the scheme's default port dropped, the path's
// dot-segments removed (RFC 3986 §5.2.4), no fragment. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "dragonfly/common/status.h"

namespace df {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case; an IPv6 literal without brackets
  uint16_t port = 0;   // 0: the scheme's default
  std::string path;    // "/" at least, dot-segments removed
  std::string query;   // without "?"; empty when none

  // host[:port] as it goes into a URL (IPv6 in brackets, the default port left out).
  std::string authority() const;
  std::string ToString() const;
};

// InvalidArgument for anything but an absolute http(s) URL with a host, or one with whitespace,
// control characters or userinfo.
StatusOr<Url> ParseUrl(const std::string& text);

// RFC 3986 §5.2.4 remove_dot_segments on an absolute path ("/a/b/../c/./d" -> "/a/c/d").
std::string RemoveDotSegments(const std::string& path);

}  // namespace df
