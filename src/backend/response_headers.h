// Incremental parsing of HTTP response header blocks as libcurl hands them over, line by line.
// Every status line starts a new block, so after redirects, "100 Continue" or a proxy CONNECT
// only the last block is kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace df::backend {

// A satisfied Content-Range: "bytes first-last/total", total -1 when given as "*".
struct ContentRange {
  uint64_t first = 0;
  uint64_t last = 0;
  int64_t total = -1;
};

// Parses "bytes first-last/total" (or ".../*"); nullopt if malformed or last < first.
std::optional<ContentRange> ParseContentRange(std::string_view value);

// Parses the unsatisfied form "bytes */total" of a 416 response; nullopt if malformed.
std::optional<uint64_t> ParseUnsatisfiedRange(std::string_view value);

// Parses a non-empty decimal unsigned integer (surrounding blanks allowed), no overflow.
std::optional<uint64_t> ParseDecimal(std::string_view value);

// The target of rel="next" in a Link header value (RFC 8288), made absolute against
// `request_url` when it is a path; empty when there is none.
std::string NextLink(std::string_view link, std::string_view request_url);

class ResponseHeaders {
 public:
  // Feeds one raw header line (CRLF optional). Returns false if a status line is malformed.
  bool AddLine(std::string_view line);

  // Status code of the current block, 0 before any status line.
  int status() const { return status_; }
  // True once the blank line ending the current block was seen.
  bool complete() const { return complete_; }
  // First value of header `name` (case-insensitive) in the current block.
  std::optional<std::string> Get(std::string_view name) const;

 private:
  int status_ = 0;
  bool complete_ = false;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace df::backend
