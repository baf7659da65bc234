#include "backend/url_util.h"

#include <cctype>

#include "dragonfly/common/logging.h"

namespace df::backend {
namespace {

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) {
    return false;
  }
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) {
      return false;
    }
  }
  return true;
}

std::string RedactUserinfo(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::string(url);
  }
  size_t authority_begin = scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) {
    authority_end = url.size();
  }
  std::string_view authority = url.substr(authority_begin, authority_end - authority_begin);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  std::string out(url.substr(0, authority_begin));
  out += "***@";
  out += url.substr(authority_begin + at + 1);
  return out;
}

// The query with the values of credential parameters replaced by "***".
std::string RedactQuery(std::string_view query) {
  std::string out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view pair = query.substr(pos, amp - pos);
    if (pos > 0) {
      out += '&';
    }
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && IsSecretParamName(pair.substr(0, eq))) {
      out += pair.substr(0, eq + 1);
      out += "***";
    } else {
      out += pair;
    }
    pos = amp + 1;
  }
  return out;
}

}  // namespace

bool HasHttpScheme(std::string_view url) {
  return StartsWithIgnoreCase(url, "http://") || StartsWithIgnoreCase(url, "https://");
}

std::string RedactUrl(std::string_view url) {
  std::string out = RedactUserinfo(url);
  size_t q = out.find('?');
  if (q == std::string::npos) {
    return out;
  }
  size_t hash = out.find('#', q);
  size_t end = hash == std::string::npos ? out.size() : hash;
  return out.substr(0, q + 1) + RedactQuery(std::string_view(out).substr(q + 1, end - q - 1)) +
         out.substr(end);
}

StatusOr<Endpoint> ParseEndpoint(const std::string& endpoint, const std::string& what,
                                 bool allow_path) {
  const std::string want =
      what + " '" + endpoint + "': want http(s)://host[:port]" + (allow_path ? "[/path]" : "");
  size_t sep = endpoint.find("://");
  if (sep == std::string::npos) {
    return InvalidArgument(want);
  }
  Endpoint e{endpoint.substr(0, sep), endpoint.substr(sep + 3), ""};
  while (!e.host.empty() && e.host.back() == '/') {
    e.host.pop_back();
  }
  if (size_t slash = e.host.find('/'); slash != std::string::npos && allow_path) {
    e.path = e.host.substr(slash);
    e.host.resize(slash);
  }
  if ((e.scheme != "http" && e.scheme != "https") || e.host.empty() ||
      e.host.find_first_of("/?#@ ") != std::string::npos ||
      e.path.find_first_of("?#@ ") != std::string::npos || e.path.find("//") != std::string::npos) {
    return InvalidArgument(want);
  }
  return e;
}

}  // namespace df::backend
