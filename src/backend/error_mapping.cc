#include "backend/error_mapping.h"

namespace df::backend {

MappedError MapHttpStatus(int http_status, const std::string& url) {
  std::string what = "origin returned " + std::to_string(http_status) + " for " + url;
  if (http_status == 404 || http_status == 410) {
    return {NotFound(what)};
  }
  if (http_status == 401 || http_status == 403) {
    return {PermissionDenied(what)};
  }
  if (http_status == 408 || http_status == 429 || (http_status >= 500 && http_status <= 599)) {
    return {Unavailable(what), /*retryable=*/true};
  }
  if (http_status >= 300 && http_status <= 399) {
    return {InvalidArgument(what + " (redirect without usable Location)")};
  }
  return {InvalidArgument(what)};
}

MappedError MapCurlCode(CURLcode code, const char* error_buffer, const std::string& url) {
  std::string text = (error_buffer != nullptr && error_buffer[0] != '\0')
                         ? std::string(error_buffer)
                         : std::string(curl_easy_strerror(code));
  std::string what = "fetching " + url + ": " + text;
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return {DeadlineExceeded(what), /*retryable=*/true, /*timed_out=*/true};
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_AGAIN:
      return {Unavailable(what), /*retryable=*/true};
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
      return {InvalidArgument(what)};
    case CURLE_OUT_OF_MEMORY:
      return {ResourceExhausted(what)};
    default:
      return {Unavailable(what)};
  }
}

}  // namespace df::backend
