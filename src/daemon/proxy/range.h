// HTTP Range requests (RFC 9110 §14): one byte range per request, as registries and containerd
// use them. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::daemon::proxy {

struct ByteRange {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
};

// Parses `header` ("bytes=a-b", "bytes=a-", "bytes=-n") against a body of `total` bytes.
// nullopt: serve the whole body (no header, a malformed one or several ranges, which RFC 9110
// allows a server to ignore). OutOfRange-like failure (ResourceExhausted) when the range cannot
// be satisfied: answer 416.
StatusOr<std::optional<ByteRange>> ParseRange(std::string_view header, uint64_t total);

}  // namespace df::daemon::proxy
