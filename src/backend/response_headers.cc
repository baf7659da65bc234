#include "backend/response_headers.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "dragonfly/common/strings.h"

namespace df::backend {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Strips the "bytes" unit (case-insensitive) and following blanks; nullopt if absent.
std::optional<std::string_view> StripBytesUnit(std::string_view value) {
  value = Trim(value);
  if (value.size() < 6 || !EqualsIgnoreCase(value.substr(0, 5), "bytes") ||
      (value[5] != ' ' && value[5] != '\t')) {
    return std::nullopt;
  }
  return Trim(value.substr(6));
}

}  // namespace

std::optional<uint64_t> ParseDecimal(std::string_view value) {
  value = Trim(value);
  if (value.empty()) {
    return std::nullopt;
  }
  uint64_t out = 0;
  for (char c : value) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (out > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return std::nullopt;
    }
    out = out * 10 + digit;
  }
  return out;
}

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  auto spec = StripBytesUnit(value);
  if (!spec) {
    return std::nullopt;
  }
  size_t dash = spec->find('-');
  size_t slash = spec->find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return std::nullopt;
  }
  auto first = ParseDecimal(spec->substr(0, dash));
  auto last = ParseDecimal(spec->substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) {
    return std::nullopt;
  }
  ContentRange range{*first, *last, -1};
  std::string_view total = Trim(spec->substr(slash + 1));
  if (total != "*") {
    auto parsed = ParseDecimal(total);
    if (!parsed || *parsed <= *last ||
        *parsed > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    range.total = static_cast<int64_t>(*parsed);
  }
  return range;
}

std::optional<uint64_t> ParseUnsatisfiedRange(std::string_view value) {
  auto spec = StripBytesUnit(value);
  if (!spec || spec->size() < 2 || (*spec)[0] != '*' || (*spec)[1] != '/') {
    return std::nullopt;
  }
  return ParseDecimal(spec->substr(2));
}

bool ResponseHeaders::AddLine(std::string_view line) {
  if (line.size() >= 5 && line.substr(0, 5) == "HTTP/") {
    status_ = 0;
    complete_ = false;
    headers_.clear();
    // "HTTP/1.1 200 OK" or "HTTP/2 200".
    size_t space = line.find(' ');
    if (space == std::string_view::npos || line.size() < space + 4) {
      return false;
    }
    int code = 0;
    for (size_t i = space + 1; i < space + 4; ++i) {
      if (line[i] < '0' || line[i] > '9') {
        return false;
      }
      code = code * 10 + (line[i] - '0');
    }
    status_ = code;
    return true;
  }
  std::string_view trimmed = Trim(line);
  if (trimmed.empty()) {
    complete_ = status_ != 0;
    return true;
  }
  if (complete_ || status_ == 0) {
    return true;  // trailers after the body, or garbage before a status line: ignored
  }
  size_t colon = trimmed.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return true;  // obsolete line folding or junk: ignored
  }
  headers_.emplace_back(std::string(Trim(trimmed.substr(0, colon))),
                        std::string(Trim(trimmed.substr(colon + 1))));
  return true;
}

std::optional<std::string> ResponseHeaders::Get(std::string_view name) const {
  for (const auto& [key, value] : headers_) {
    if (EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

std::string NextLink(std::string_view link, std::string_view request_url) {
  // link-value = "<" URI-Reference ">" *( ";" link-param ), values separated by commas.
  size_t pos = 0;
  while (true) {
    size_t open = link.find('<', pos);
    if (open == std::string_view::npos) {
      return "";
    }
    size_t close = link.find('>', open);
    if (close == std::string_view::npos) {
      return "";
    }
    std::string_view target = link.substr(open + 1, close - open - 1);
    size_t end = link.find('<', close);
    std::string params(
        link.substr(close + 1, end == std::string_view::npos ? end : end - close - 1));
    for (char& c : params) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      if (!target.empty() && target.front() == '/') {
        // Absolute path: keep the request's scheme://authority.
        size_t scheme = request_url.find("://");
        size_t path = scheme == std::string_view::npos ? scheme : request_url.find('/', scheme + 3);
        return std::string(request_url.substr(0, path)) + std::string(target);
      }
      return std::string(target);
    }
    if (end == std::string_view::npos) {
      return "";
    }
    pos = end;
  }
}

}  // namespace df::backend
