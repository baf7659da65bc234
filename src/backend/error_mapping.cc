#include "backend/error_mapping.h"

#include "backend/xml.h"

namespace df::backend {

namespace {

// The string value of "key" in a flat JSON body (no unescaping beyond \" ).
std::string JsonString(std::string_view body, std::string_view key) {
  const std::string k = "\"" + std::string(key) + "\"";
  size_t p = body.find(k);
  if (p == std::string_view::npos) {
    return "";
  }
  p = body.find(':', p + k.size());
  if (p == std::string_view::npos) {
    return "";
  }
  p = body.find_first_not_of(" \t\r\n", p + 1);
  if (p == std::string_view::npos || body[p] != '"') {
    return "";
  }
  std::string out;
  for (size_t i = p + 1; i < body.size() && body[i] != '"'; ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      ++i;
    }
    out += body[i];
  }
  return out;
}

}  // namespace

std::string ErrorReason(std::string_view body) {
  std::string code = XmlText(body, "Code");
  std::string message = XmlText(body, "Message");
  if (code.empty() && message.empty()) {
    code = JsonString(body, "code");
    message = JsonString(body, "message");
    if (message.empty()) {
      message = JsonString(body, "error");
    }
  }
  std::string out = code.empty() ? message : message.empty() ? code : code + ": " + message;
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') {
      c = ' ';
    }
  }
  return out.size() > 300 ? out.substr(0, 300) + "..." : out;
}

MappedError MapHttpStatus(int http_status, const std::string& url, std::string_view body) {
  std::string what = "origin returned " + std::to_string(http_status) + " for " + url;
  if (std::string reason = ErrorReason(body); !reason.empty()) {
    what += " (" + reason + ")";
  }
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
