#include "dragonfly/backend/http_backend.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "backend/fetch_attempt.h"
#include "backend/tls.h"
#include "backend/url_util.h"

namespace df::backend {
namespace {

using Clock = std::chrono::steady_clock;

constexpr long kLowSpeedLimitBytesPerSec = 1024;
constexpr long kReceiveBufferBytes = 512 * 1024;
constexpr int64_t kMaxBackoffMs = 30000;

class CurlHttpBackend final : public HttpBackend {
 public:
  explicit CurlHttpBackend(const HttpOptions& options) : options_(options) {}

  Status Fetch(const FetchRequest& request,
               const std::function<Status(const ResponseInfo&)>& on_response,
               const std::function<Status(const char* data, size_t n)>& on_data) override;

 private:
  Status Configure(CURL* curl, const FetchRequest& request) const;
  std::chrono::milliseconds Backoff(int retry) const;

  HttpOptions options_;
};

Status CurlHttpBackend::Configure(CURL* curl, const FetchRequest& request) const {
  if (curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str()) != CURLE_OK) {
    return InvalidArgument("invalid URL " + RedactUrl(request.url));
  }
  CURLcode rc = CURLE_OK;
  auto set = [&rc](CURLcode r) {
    if (rc == CURLE_OK) {
      rc = r;
    }
  };
  set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, options_.max_redirects > 0 ? 1L : 0L));
  set(curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects)));
  set(curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str()));
  set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(std::max(options_.connect_timeout_ms, 0))));
  if (options_.low_speed_timeout_s > 0) {
    set(curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedLimitBytesPerSec));
    set(curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                         static_cast<long>(options_.low_speed_timeout_s)));
  }
  set(ConfigureTls(curl, options_, request.url));
  set(curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kReceiveBufferBytes));
  set(curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L));
  if (rc != CURLE_OK) {
    return Internal(std::string("configuring curl: ") + curl_easy_strerror(rc));
  }
  return Status::Ok();
}

std::chrono::milliseconds CurlHttpBackend::Backoff(int retry) const {
  int64_t base = std::max(options_.retry_backoff_ms, 0);
  for (int i = 1; i < retry && base < kMaxBackoffMs; ++i) {
    base *= 2;
  }
  base = std::min(base, kMaxBackoffMs);
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> jitter(0, base / 5);
  return std::chrono::milliseconds(base + jitter(rng));
}

Status CurlHttpBackend::Fetch(const FetchRequest& request,
                              const std::function<Status(const ResponseInfo&)>& on_response,
                              const std::function<Status(const char* data, size_t n)>& on_data) {
  if (CURLcode rc = GlobalCurlInit(); rc != CURLE_OK) {
    return Internal(std::string("curl_global_init: ") + curl_easy_strerror(rc));
  }
  const std::string url = RedactUrl(request.url);
  if (!HasHttpScheme(request.url)) {
    return InvalidArgument("unsupported URL (want http:// or https://): " + url);
  }
  if (!on_response || !on_data) {
    return InvalidArgument("Fetch needs both callbacks");
  }
  DF_ASSIGN_OR_RETURN(std::vector<std::string> header_lines, FormatHeaders(request.headers));
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    return ResourceExhausted("curl_easy_init failed");
  }
  DF_RETURN_IF_ERROR(Configure(curl.get(), request));

  FetchState state;
  state.request = &request;
  state.redacted_url = url;
  state.on_response = &on_response;
  state.on_data = &on_data;
  std::optional<Clock::time_point> deadline;
  if (request.timeout.count() > 0) {
    deadline = Clock::now() + request.timeout;
  }
  auto timed_out = [&](const Status& last_error) {
    std::string what =
        "fetching " + url + ": timed out after " + std::to_string(request.timeout.count()) + " ms";
    if (!last_error.ok()) {
      what += "; last error: " + last_error.message();
    }
    return DeadlineExceeded(what);
  };
  const int max_retries = std::max(options_.max_retries, 0);
  for (int attempt = 0;; ++attempt) {
    if (request.attempts != nullptr) {
      *request.attempts = attempt + 1;
    }
    long timeout_ms = 0;
    if (deadline) {
      auto remaining = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      if (remaining.count() <= 0) {
        return timed_out(Status::Ok());
      }
      timeout_ms = static_cast<long>(remaining.count());
    }
    FetchAttempt fetch_attempt(curl.get(), &state);
    AttemptResult result = fetch_attempt.Run(header_lines, timeout_ms);
    if (result.kind == AttemptResult::Kind::kDone) {
      return Status::Ok();
    }
    if (result.kind == AttemptResult::Kind::kFail) {
      return result.status;
    }
    if (result.timed_out && deadline && Clock::now() >= *deadline) {
      return timed_out(Status::Ok());
    }
    if (attempt >= max_retries) {
      std::string suffix = " (after " + std::to_string(attempt + 1) + " attempts)";
      if (result.timed_out) {
        return DeadlineExceeded(result.status.message() + suffix);
      }
      return Unavailable(result.status.message() + suffix);
    }
    std::chrono::milliseconds delay = Backoff(attempt + 1);
    if (deadline && Clock::now() + delay >= *deadline) {
      return timed_out(result.status);
    }
    spdlog::warn("back-to-source retry url={} attempt={} delivered={} delay_ms={} error=\"{}\"",
                 url, attempt + 1, state.delivered, delay.count(), result.status.ToString());
    std::this_thread::sleep_for(delay);
  }
}

}  // namespace

std::unique_ptr<HttpBackend> NewHttpBackend(const HttpOptions& options) {
  (void)GlobalCurlInit();
  return std::make_unique<CurlHttpBackend>(options);
}

}  // namespace df::backend
