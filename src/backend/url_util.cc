#include "backend/url_util.h"

#include <cctype>

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

}  // namespace

bool HasHttpScheme(std::string_view url) {
  return StartsWithIgnoreCase(url, "http://") || StartsWithIgnoreCase(url, "https://");
}

std::string RedactUrl(std::string_view url) {
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

}  // namespace df::backend
