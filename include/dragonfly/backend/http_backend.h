// Back-to-source over HTTP and HTTPS (libcurl): range requests, redirects, custom CA bundle,
// insecure mode, request headers passed through, retries with backoff on transient errors
// (connection failures, 5xx, 429), a clear error on 4xx. Thread-safe: each Fetch uses its own
// curl handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::backend {

// TLS settings for one upstream host ("host" or "host:port", as in the URL).
struct HostTls {
  std::string ca_file;
  bool insecure = false;
};

struct HttpOptions {
  std::string ca_file;                      // extra CA bundle (PEM); empty = system trust
  bool insecure = false;                    // skip TLS verification
  std::map<std::string, HostTls> host_tls;  // per-host overrides of ca_file / insecure
  int connect_timeout_ms = 10000;
  int max_retries = 3;           // transient failures retried this many times
  int retry_backoff_ms = 200;    // doubled after each retry, with jitter
  int low_speed_timeout_s = 30;  // abort if < 1 KiB/s for this long
  int max_redirects = 10;
  std::string user_agent = "dragonfly-cpp/0.1";
};

struct FetchRequest {
  std::string url;
  std::map<std::string, std::string> headers;
  uint64_t offset = 0;                   // first byte wanted
  std::optional<uint64_t> length;        // bytes wanted from offset; nullopt = to the end
  std::chrono::milliseconds timeout{0};  // whole request; 0 = none
  int* attempts = nullptr;               // when set: the requests made (1 + retries)
};

struct ResponseInfo {
  int http_status = 0;
  int64_t total_length = -1;  // size of the whole object when known (Content-Range or -Length)
  std::string effective_url;  // after redirects
  std::string content_type;
};

// An object under a listed prefix.
struct ListedObject {
  std::string url;   // its own URL
  std::string path;  // relative to the listed URL (common/file.h SafeRelativePath holds)
  int64_t size = -1;
};

class HttpBackend {
 public:
  virtual ~HttpBackend() = default;

  // The objects under a directory-like URL, at most `max` (more is ResourceExhausted). Only
  // object stores can list: plain HTTP is Unimplemented.
  virtual StatusOr<std::vector<ListedObject>> List(const std::string& url, size_t max) {
    (void)max;
    return InvalidArgument("cannot list " + url + ": only object storage URLs (s3://) list");
  }

  // Streams [offset, offset+length) of the object. `on_response` is called once before the
  // first body byte; `on_data` receives the body in order, starting exactly at `offset` (the
  // backend resumes with a range request after a transient failure mid-body, and skips bytes
  // itself if a server ignores the range). A non-ok Status from a callback aborts the fetch
  // and is returned. Errors: NotFound (404/410), PermissionDenied (401/403),
  // InvalidArgument (other 4xx, bad URL), Unavailable (network, 5xx after retries),
  // DeadlineExceeded (timeout).
  virtual Status Fetch(const FetchRequest& request,
                       const std::function<Status(const ResponseInfo&)>& on_response,
                       const std::function<Status(const char* data, size_t n)>& on_data) = 0;
};

std::unique_ptr<HttpBackend> NewHttpBackend(const HttpOptions& options);

}  // namespace df::backend
