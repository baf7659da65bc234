#include "daemon/proxy/upstream.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <memory>

#include "backend/tls.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/strings.h"

namespace df::daemon::proxy {
namespace {

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;
using SlistPtr = std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)>;

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

SlistPtr MakeHeaders(const Headers& headers, bool upload) {
  curl_slist* list = nullptr;
  for (const auto& [k, v] : headers) {
    std::string line = v.empty() ? k + ";" : k + ": " + v;
    list = curl_slist_append(list, line.c_str());
  }
  // curl adds these on its own unless the client sent them; an empty value suppresses them.
  bool has_accept = std::any_of(headers.begin(), headers.end(),
                                [](const auto& h) { return EqualsIgnoreCase(h.first, "Accept"); });
  if (!has_accept) {
    list = curl_slist_append(list, "Accept:");
  }
  if (upload) {
    list = curl_slist_append(list, "Expect:");
  }
  return {list, &curl_slist_free_all};
}

CurlPtr NewHandle(const backend::HttpOptions& tls, const std::string& url, long timeout_s) {
  CurlPtr curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    return curl;
  }
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, timeout_s);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, nullptr);
  backend::ConfigureTls(curl.get(), tls, url);
  return curl;
}

struct ForwardState {
  int fd = -1;
  bool keep_alive = true;
  bool head = false;
  int status = 0;
  std::string reason;
  Headers headers;
  // Framing is rebuilt from what is relayed: the upstream's Content-Length is used only when it is
  // one well-formed value and no Transfer-Encoding came with it (libcurl then decodes the chunks
  // and ignores the length); otherwise the client gets the decoded body chunked.
  int64_t content_length = -1;
  bool length_bad = false;
  bool transfer_encoding = false;
  uint64_t sent = 0;
  bool chunked = false;
  bool started = false;
  Status write_error;
  const UpstreamRequest* req = nullptr;

  bool BodyAllowed() const { return !head && status != 204 && status != 304 && status >= 200; }

  Status SendHead() {
    started = true;
    if (length_bad || transfer_encoding) {
      content_length = -1;
    }
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    for (const auto& [k, v] : headers) {
      if (IsHopByHop(k) || EqualsIgnoreCase(k, "Content-Length")) {
        continue;
      }
      out += k + ": " + v + "\r\n";
    }
    if (content_length >= 0 && status != 204 && status >= 200) {
      out += "Content-Length: " + std::to_string(content_length) + "\r\n";
    }
    if (status >= 400) {
      out += "X-Dragonfly-Error-Type: backend\r\n";
    }
    if (BodyAllowed() && content_length < 0) {
      chunked = true;
      out += "Transfer-Encoding: chunked\r\n";
    }
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    return net::WriteAll(fd, out.data(), out.size());
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<ForwardState*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 1xx or a redirect)
    st->headers.clear();
    st->content_length = -1;
    st->length_bad = st->transfer_encoding = false;
    auto sp = line.find(' ');
    st->status =
        sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    auto sp2 = line.find(' ', sp + 1);
    st->reason = sp2 == std::string_view::npos ? "" : Trim(line.substr(sp2 + 1));
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = Trim(line.substr(0, colon));
    std::string value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Length")) {
      int64_t v = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || end != value.data() + value.size() || v < 0 ||
          (st->content_length >= 0 && st->content_length != v)) {
        st->length_bad = true;
      } else {
        st->content_length = v;
      }
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      st->transfer_encoding = true;
    }
    st->headers.emplace_back(std::move(name), std::move(value));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<ForwardState*>(user);
  size_t len = size * n;
  if (!st->started) {
    st->write_error = st->SendHead();
  }
  if (!st->write_error.ok()) {
    return 0;
  }
  if (st->chunked) {
    char hdr[24];
    int k = std::snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
    st->write_error = net::WriteAll(st->fd, hdr, static_cast<size_t>(k), true);
    if (st->write_error.ok()) {
      st->write_error = net::WriteAll(st->fd, data, len, true);
    }
    if (st->write_error.ok()) {
      st->write_error = net::WriteAll(st->fd, "\r\n", 2);
    }
  } else if (st->content_length >= 0 &&
             st->sent + len > static_cast<uint64_t>(st->content_length)) {
    st->write_error = DataLoss("upstream sent more than its Content-Length");
  } else {
    st->write_error = net::WriteAll(st->fd, data, len);
  }
  st->sent += len;
  return st->write_error.ok() ? len : 0;
}

size_t OnRead(char* out, size_t size, size_t n, void* user) {
  auto* st = static_cast<ForwardState*>(user);
  long got = st->req->read_body(out, size * n);
  return got < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(got);
}

}  // namespace

bool SendErrorResponse(int fd, int status, const std::string& type, const std::string& message,
                       bool keep_alive, const std::string& extra_headers) {
  std::string body = message + "\n";
  std::string reason(
      boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status)));
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Dragonfly-Error-Type: " + type + "\r\n" +
      extra_headers + "Content-Length: " + std::to_string(body.size()) +
      (keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close") + "\r\n\r\n" + body;
  return net::WriteAll(fd, out.data(), out.size()).ok() && keep_alive;
}

bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kHop[] = {
      "Connection", "Keep-Alive",        "Proxy-Connection", "Proxy-Authenticate", "TE",
      "Trailer",    "Transfer-Encoding", "Upgrade",          "Proxy-Authorization"};
  return std::any_of(std::begin(kHop), std::end(kHop),
                     [&](std::string_view h) { return EqualsIgnoreCase(h, name); });
}

ForwardResult Forward(const backend::HttpOptions& tls, const UpstreamRequest& req, int client_fd,
                      bool keep_alive) {
  ForwardResult result;
  CurlPtr curl = NewHandle(tls, req.url, req.timeout_s);
  if (!curl) {
    result.error = ResourceExhausted("curl_easy_init failed");
    return result;
  }
  ForwardState st;
  st.fd = client_fd;
  st.keep_alive = keep_alive;
  st.head = req.method == "HEAD";
  st.req = &req;
  SlistPtr headers = MakeHeaders(req.headers, req.has_body);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // redirects go to the client as they are
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
  if (st.head) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.has_body) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(c, CURLOPT_READDATA, &st);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_length));
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  CURLcode rc = curl_easy_perform(c);
  result.status = st.status;
  if (rc == CURLE_OK && !st.started) {
    st.write_error = st.SendHead();  // a response without a body
  }
  result.response_started = st.started;
  if (rc == CURLE_OK && st.write_error.ok()) {
    if (st.chunked) {
      st.write_error = net::WriteAll(client_fd, "0\r\n\r\n", 5);
    }
    // A body shorter than the length told to the client leaves the connection unusable.
    bool whole = st.chunked || !st.BodyAllowed() || st.content_length < 0 ||
                 st.sent == static_cast<uint64_t>(st.content_length);
    result.complete = st.write_error.ok() && whole;
    return result;
  }
  result.error =
      !st.write_error.ok() ? st.write_error.Annotate("client")
      : rc == CURLE_OPERATION_TIMEDOUT
          ? DeadlineExceeded("upstream stalled for " + std::to_string(req.timeout_s) + " s")
          : Unavailable(std::string("upstream: ") + curl_easy_strerror(rc));
  return result;
}

StatusOr<HeadResult> Head(const backend::HttpOptions& tls, const std::string& url,
                          const Headers& headers, long timeout_s) {
  CurlPtr curl = NewHandle(tls, url, timeout_s);
  if (!curl) {
    return ResourceExhausted("curl_easy_init failed");
  }
  SlistPtr list = MakeHeaders(headers, false);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return DeadlineExceeded("upstream did not answer within " + std::to_string(timeout_s) + " s");
  }
  if (rc != CURLE_OK) {
    return Unavailable(std::string("upstream: ") + curl_easy_strerror(rc));
  }
  HeadResult r;
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  r.status = static_cast<int>(code);
  curl_off_t len = -1;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
  r.content_length = len;
  return r;
}

}  // namespace df::daemon::proxy
