#include "dragonfly/common/url.h"

#include <algorithm>
#include <cctype>

#include "dragonfly/common/net.h"

namespace df {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

uint16_t DefaultPort(const std::string& scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

std::string RemoveDotSegments(const std::string& path) {
  std::string in = path;
  std::string out;
  while (!in.empty()) {
    if (in.rfind("../", 0) == 0) {
      in.erase(0, 3);
    } else if (in.rfind("./", 0) == 0) {
      in.erase(0, 2);
    } else if (in.rfind("/./", 0) == 0) {
      in.erase(0, 2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.rfind("/../", 0) == 0 || in == "/..") {
      in = in == "/.." ? "/" : in.substr(3);
      auto last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in.clear();
    } else {
      size_t next = in.find('/', in[0] == '/' ? 1 : 0);
      out += in.substr(0, next);
      in.erase(0, next == std::string::npos ? in.size() : next);
    }
  }
  return out.empty() ? "/" : out;
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 0 ? h : h + ":" + std::to_string(port);
}

std::string Url::ToString() const {
  return scheme + "://" + authority() + path + (query.empty() ? "" : "?" + query);
}

StatusOr<Url> ParseUrl(const std::string& text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("malformed URL: contains whitespace or control characters");
    }
  }
  auto scheme_end = text.find("://");
  if (scheme_end == std::string::npos) {
    return InvalidArgument("malformed URL '" + text + "': want http(s)://host/path");
  }
  Url u;
  u.scheme = Lower(text.substr(0, scheme_end));
  if (u.scheme != "http" && u.scheme != "https") {
    return InvalidArgument("unsupported URL scheme '" + u.scheme + "': want http or https");
  }
  std::string rest = text.substr(scheme_end + 3);
  rest.erase(std::min(rest.find('#'), rest.size()));  // the fragment never reaches the server
  size_t auth_end = std::min(rest.find_first_of("/?"), rest.size());
  std::string authority = rest.substr(0, auth_end);
  if (authority.find('@') != std::string::npos) {
    return InvalidArgument("URL with userinfo is not accepted: '" + text + "'");
  }
  std::string host = authority;
  bool bracketed = false;
  if (!authority.empty() && authority.back() != ']' &&
      authority.find(':') != std::string::npos) {  // host:port or [v6]:port
    DF_ASSIGN_OR_RETURN(net::HostPort hp, net::SplitHostPort(authority));
    host = hp.host;
    u.port = hp.port;
    bracketed = authority.front() == '[';
  } else if (authority.size() > 2 && authority.front() == '[' && authority.back() == ']') {
    host = authority.substr(1, authority.size() - 2);
    bracketed = true;
  }
  if (host.empty()) {
    return InvalidArgument("malformed URL '" + text + "': missing host");
  }
  // A name (letters, digits, '-', '.', '_', '~', '%'), or an IPv6 literal in brackets.
  const bool ok = bracketed ? host.find(':') != std::string::npos && net::CanonicalIp(host).ok()
                            : host.find_first_not_of(
                                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789-._~%") == std::string::npos;
  if (!ok) {
    return InvalidArgument("malformed URL '" + text + "': bad host");
  }
  u.host = Lower(host);
  if (u.port == DefaultPort(u.scheme)) {
    u.port = 0;
  }
  std::string tail = rest.substr(auth_end);
  size_t q = tail.find('?');
  if (q != std::string::npos) {
    u.query = tail.substr(q + 1);
    tail.erase(q);
  }
  u.path = RemoveDotSegments(tail.empty() ? "/" : tail);
  return u;
}

}  // namespace df
