#include "daemon/proxy/range.h"

#include <charconv>

namespace df::daemon::proxy {
namespace {

bool ParseNumber(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) {
    return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

StatusOr<std::optional<ByteRange>> ParseRange(std::string_view header, uint64_t total) {
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) {
    return std::optional<ByteRange>();
  }
  std::string_view spec = header.substr(kPrefix.size());
  while (!spec.empty() && spec.front() == ' ') {
    spec.remove_prefix(1);
  }
  while (!spec.empty() && spec.back() == ' ') {
    spec.remove_suffix(1);
  }
  auto dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) {
    return std::optional<ByteRange>();
  }
  std::string_view first = spec.substr(0, dash);
  std::string_view last = spec.substr(dash + 1);
  uint64_t a = 0;
  uint64_t b = 0;
  if (first.empty()) {  // suffix: the last n bytes
    if (!ParseNumber(last, &b)) {
      return std::optional<ByteRange>();
    }
    if (b == 0 || total == 0) {
      return ResourceExhausted("range not satisfiable");
    }
    return std::optional<ByteRange>(ByteRange{total - std::min(b, total), total});
  }
  if (!ParseNumber(first, &a) || (!last.empty() && (!ParseNumber(last, &b) || b < a))) {
    return std::optional<ByteRange>();
  }
  if (a >= total) {
    return ResourceExhausted("range not satisfiable");
  }
  uint64_t end = last.empty() ? total : std::min(b + 1, total);
  return std::optional<ByteRange>(ByteRange{a, end});
}

}  // namespace df::daemon::proxy
