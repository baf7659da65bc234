// Maps HTTP statuses and libcurl failures of the back-to-source path onto Status codes and
// decides which of them are worth a retry.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::backend {

struct MappedError {
  Status status;
  bool retryable = false;
  bool timed_out = false;
};

// For a final non-2xx status: 404/410 NotFound, 401/403 PermissionDenied, 408/429/5xx
// retryable Unavailable, anything else InvalidArgument. `url` must already be redacted. The
// reason an object store or API gives in `body` (ErrorReason) is appended.
MappedError MapHttpStatus(int http_status, const std::string& url, std::string_view body = {});

// The reason in an error body: "<Code>: <Message>" of an S3 / Azure XML error, the "code" and
// "message" (or "error") of a JSON one; empty when there is none. At most 300 characters, one
// line.
std::string ErrorReason(std::string_view body);

// For a failed curl_easy_perform. `error_buffer` is CURLOPT_ERRORBUFFER (may be empty).
MappedError MapCurlCode(CURLcode code, const char* error_buffer, const std::string& url);

}  // namespace df::backend
