// Requests from the proxy to an upstream (registry or origin) with libcurl: Forward relays a
// request and streams the upstream's response to the client socket unchanged (status, headers —
// repeated ones kept — and body); Head asks an upstream whether a client may fetch a URL.
// Blocking; runs on the client connection's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"
#include "dragonfly/common/strings.h"

namespace df::daemon::proxy {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct UpstreamRequest {
  std::string method;
  std::string url;
  Headers headers;  // sent as given, one line each (Host and hop-by-hop already removed)
  bool has_body = false;
  int64_t body_length = -1;  // -1 = unknown (sent chunked)
  long timeout_s = 30;       // give up on an upstream silent this long
  // Reads up to `cap` body bytes; 0 at the end, -1 on error.
  std::function<long(char* out, size_t cap)> read_body;
};

struct ForwardResult {
  int status = 0;
  bool response_started = false;  // bytes reached the client: no error page possible
  bool complete = false;          // the response was relayed completely
  Status error;                   // upstream failure (when !complete)
};

// Relays `req` and writes the HTTP/1.1 response to `client_fd`. Hop-by-hop headers are dropped;
// a body without Content-Length is re-framed as chunked; an error status (>= 400) gets
// `X-Dragonfly-Error-Type: backend`. `keep_alive` picks the Connection
// header sent to the client.
ForwardResult Forward(const backend::HttpOptions& tls, const UpstreamRequest& req, int client_fd,
                      bool keep_alive);

struct HeadResult {
  int status = 0;
  int64_t content_length = -1;
};

// HEAD `url` with `headers`, following redirects (credentials are not sent to other hosts).
StatusOr<HeadResult> Head(const backend::HttpOptions& tls, const std::string& url,
                          const Headers& headers, long timeout_s);

// Writes a complete error response made by the proxy itself: a plain-text body and
// `X-Dragonfly-Error-Type: <type>` (proxy, backend or dfdaemon: which side failed).
// `extra_headers` are full "Name: value\r\n" lines. Returns whether the connection may be kept.
bool SendErrorResponse(int fd, int status, const std::string& type, const std::string& message,
                       bool keep_alive, const std::string& extra_headers = "");

// True for headers that must not be forwarded by a proxy (RFC 9110 §7.6.1).
bool IsHopByHop(std::string_view name);
using df::EqualsIgnoreCase;

}  // namespace df::daemon::proxy
