// One HTTP request of a Fetch: asks for the not yet delivered rest of the wanted range, parses
// the final response header block, validates the returned range and streams body bytes to the
// caller. The retry loop (http_backend.cc) runs attempts until one finishes or fails for good.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend/response_headers.h"
#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::backend {

// One "Name: value" line per header, for curl. Range, Accept-Encoding and Host are the
// fetcher's and dropped. InvalidArgument for a bad name or a value with CR, LF or NUL (values
// are never echoed back: they may carry credentials).
StatusOr<std::vector<std::string>> FormatHeaders(const std::map<std::string, std::string>& in);

// Progress of a whole Fetch, carried across attempts.
struct FetchState {
  const FetchRequest* request = nullptr;
  std::string redacted_url;
  const std::function<Status(const ResponseInfo&)>* on_response = nullptr;
  const std::function<Status(const char*, size_t)>* on_data = nullptr;

  uint64_t delivered = 0;      // bytes handed to on_data so far
  bool response_sent = false;  // on_response already called
  int64_t total_length = -1;   // as reported to on_response
  std::string etag;            // validator of the first response, to detect a changed object

  // Absolute offset of the next byte to deliver.
  uint64_t next() const { return request->offset + delivered; }
  // Absolute end (exclusive) of the wanted range, nullopt = end of object.
  std::optional<uint64_t> end() const {
    if (!request->length) {
      return std::nullopt;
    }
    return request->offset + *request->length;
  }
};

struct AttemptResult {
  enum class Kind { kDone, kRetry, kFail };
  Kind kind = Kind::kDone;
  Status status;
  bool timed_out = false;
};

class FetchAttempt {
 public:
  FetchAttempt(CURL* curl, FetchState* state) : curl_(curl), state_(state) {}
  FetchAttempt(const FetchAttempt&) = delete;
  FetchAttempt& operator=(const FetchAttempt&) = delete;

  // `header_lines` are the caller's request headers, already formatted for curl.
  // `timeout_ms` bounds this request (0 = none). The handle is otherwise configured.
  AttemptResult Run(const std::vector<std::string>& header_lines, long timeout_ms);

 private:
  static size_t HeaderCallback(char* data, size_t size, size_t nitems, void* self);
  static size_t WriteCallback(char* data, size_t size, size_t nmemb, void* self);
  size_t OnHeader(const char* data, size_t n);
  size_t OnBody(const char* data, size_t n);
  // Called on the first body byte (or at the end for an empty body): validates the final
  // response and reports it. Non-ok = abort; sets fatal_ or http_error_ accordingly.
  bool BeginBody();
  Status CheckResumedResponse(int64_t total, const std::string& etag);
  AttemptResult Finish(CURLcode code);

  CURL* curl_;
  FetchState* state_;
  ResponseHeaders headers_;
  char error_buffer_[CURL_ERROR_SIZE] = {};

  bool body_started_ = false;
  bool accepted_ = false;               // a 2xx (or satisfiable 416) response is being streamed
  int http_error_ = 0;                  // final non-2xx status being discarded
  uint64_t discarded_ = 0;              // error body bytes thrown away
  std::string error_body_;              // their first KiB, for the error's reason
  uint64_t stream_pos_ = 0;             // absolute offset of the next received body byte
  std::optional<uint64_t> stream_end_;  // absolute end of the body as announced, if known
  int64_t response_total_ = -1;         // object size announced by this response
  bool finished_early_ = false;         // stopped the transfer after the wanted range
  Status fatal_;                        // callback or protocol error: returned as-is, no retry
};

}  // namespace df::backend
