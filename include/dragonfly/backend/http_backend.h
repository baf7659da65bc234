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

// Credentials a download brings for an object store (dfget --storage-*), in place of the
// daemon's own.
struct StorageCredentials {
  std::string access_key_id;      // S3: the access key ID; Azure: the account name
  std::string access_key_secret;  // S3: the secret; Azure: the account key
  std::string session_token;      // S3: temporary credentials' token; Azure: a SAS
  std::string region;             // S3: the bucket's region (empty: the daemon's)
};

struct FetchRequest {
  std::string url;
  std::map<std::string, std::string> headers;
  uint64_t offset = 0;                        // first byte wanted
  std::optional<uint64_t> length;             // bytes wanted from offset; nullopt = to the end
  std::chrono::milliseconds timeout{0};       // whole request; 0 = none
  int* attempts = nullptr;                    // when set: the requests made (1 + retries)
  std::optional<StorageCredentials> storage;  // object stores only; none: the daemon's
  // When set, called before every request of the fetch (retries and resumes included) with the
  // Range value that request carries ("bytes=a-b", or empty for none); the headers it returns
  // are added to that request. Object stores sign here: a signature covers its time (S3 and
  // Azure refuse one older than 15 minutes, so a long fetch resumed later signs again) and, for
  // Azure's Shared Key, the Range.
  std::function<StatusOr<std::map<std::string, std::string>>(const std::string& range)> sign;
};

struct ResponseInfo {
  int http_status = 0;
  int64_t total_length = -1;  // size of the whole object when known (Content-Range or -Length)
  std::string effective_url;  // after redirects
  std::string content_type;
  std::string next_page;  // a paginated API's next page: Link <url>; rel="next", made absolute
};

// A request to an object store as sent over HTTP(S): its URL and the headers that sign it.
struct SignedRequest {
  std::string url;
  std::map<std::string, std::string> headers;
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
  // object stores and hubs list: plain HTTP is InvalidArgument.
  // `where`: the URL, the caller's headers (a hub token) and storage credentials.
  virtual StatusOr<std::vector<ListedObject>> List(const FetchRequest& where, size_t max) {
    (void)max;
    return InvalidArgument("cannot list " + where.url +
                           ": only object storage and hub URLs (s3://, abs://, hf://) list");
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
