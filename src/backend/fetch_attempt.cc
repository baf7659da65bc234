#include "backend/fetch_attempt.h"

#include <algorithm>
#include <memory>
#include <string_view>

#include "backend/error_mapping.h"
#include "dragonfly/common/strings.h"

namespace df::backend {
namespace {

// Error bodies are read and dropped (keeps the connection reusable) up to this size.
constexpr uint64_t kMaxDiscardedBytes = 64 * 1024;
constexpr size_t kMaxErrorBody = 1024;  // of an error body kept for its reason

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

bool Append(SlistPtr& list, const std::string& line) {
  curl_slist* appended = curl_slist_append(list.get(), line.c_str());
  if (appended == nullptr) {
    return false;
  }
  (void)list.release();
  list.reset(appended);
  return true;
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != ':';
  });
}

}  // namespace

StatusOr<std::vector<std::string>> FormatHeaders(const std::map<std::string, std::string>& in) {
  std::vector<std::string> lines;
  for (const auto& [name, value] : in) {
    if (!ValidHeaderName(name)) {
      return InvalidArgument("invalid request header name '" + name + "'");
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return InvalidArgument("invalid value for request header " + name);
    }
    // Range and encoding are the fetcher's; Host comes from the URL (a task's ID binds its URL,
    // so no header may point the fetch at another virtual host).
    if (EqualsIgnoreCase(name, "Range") || EqualsIgnoreCase(name, "Accept-Encoding") ||
        EqualsIgnoreCase(name, "Host")) {
      continue;
    }
    // curl drops "Name:" with an empty value; "Name;" sends it empty.
    lines.push_back(value.empty() ? name + ";" : name + ": " + value);
  }
  return lines;
}

AttemptResult FetchAttempt::Run(const std::vector<std::string>& header_lines, long timeout_ms) {
  SlistPtr list;
  for (const auto& line : header_lines) {
    if (!Append(list, line)) {
      return {AttemptResult::Kind::kFail, ResourceExhausted("curl_slist_append failed")};
    }
  }
  uint64_t next = state_->next();
  std::optional<uint64_t> end = state_->end();
  std::string range;
  if (next > 0 || end) {
    range = "bytes=" + std::to_string(next) + "-";
    if (end) {
      // A zero-length request still asks for one byte so the server reports the object.
      range += std::to_string(std::max(*end, next + 1) - 1);
    }
    if (!Append(list, "Range: " + range)) {
      return {AttemptResult::Kind::kFail, ResourceExhausted("curl_slist_append failed")};
    }
  }
  if (state_->request->sign) {
    StatusOr<std::map<std::string, std::string>> signed_headers = state_->request->sign(range);
    if (!signed_headers.ok()) {
      return {AttemptResult::Kind::kFail, signed_headers.status()};
    }
    StatusOr<std::vector<std::string>> lines = FormatHeaders(*signed_headers);
    if (!lines.ok()) {
      return {AttemptResult::Kind::kFail, lines.status()};
    }
    for (const auto& line : *lines) {
      if (!Append(list, line)) {
        return {AttemptResult::Kind::kFail, ResourceExhausted("curl_slist_append failed")};
      }
    }
  }
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &FetchAttempt::HeaderCallback);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &FetchAttempt::WriteCallback);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);

  CURLcode code = curl_easy_perform(curl_);
  AttemptResult result = Finish(code);

  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, nullptr);
  return result;
}

size_t FetchAttempt::HeaderCallback(char* data, size_t size, size_t nitems, void* self) {
  return static_cast<FetchAttempt*>(self)->OnHeader(data, size * nitems);
}

size_t FetchAttempt::WriteCallback(char* data, size_t size, size_t nmemb, void* self) {
  return static_cast<FetchAttempt*>(self)->OnBody(data, size * nmemb);
}

size_t FetchAttempt::OnHeader(const char* data, size_t n) {
  // A malformed status line leaves status() at 0; curl reports such replies itself.
  (void)headers_.AddLine(std::string_view(data, n));
  return n;
}

bool FetchAttempt::BeginBody() {
  body_started_ = true;
  const int status = headers_.status();
  const uint64_t next = state_->next();
  const std::optional<uint64_t> end = state_->end();
  int reported_status = status;
  int64_t total = -1;
  if (status == 206) {
    auto header = headers_.Get("Content-Range");
    auto range = header ? ParseContentRange(*header) : std::nullopt;
    if (!range) {
      fatal_ =
          Internal("origin answered 206 without a valid Content-Range for " + state_->redacted_url);
      return false;
    }
    if (range->first != next) {
      fatal_ = Internal("origin returned a range starting at byte " + std::to_string(range->first) +
                        ", asked for " + std::to_string(next) + " for " + state_->redacted_url);
      return false;
    }
    stream_pos_ = range->first;
    stream_end_ = range->last + 1;
    total = range->total;
  } else if (status >= 200 && status <= 299) {
    // Whole object from byte 0: a server ignoring Range; bytes before `next` are skipped.
    stream_pos_ = 0;
    auto header = headers_.Get("Content-Length");
    auto length = header ? ParseDecimal(*header) : std::nullopt;
    if (length) {
      stream_end_ = *length;
      if (status == 200) {
        total = static_cast<int64_t>(*length);
      }
    }
  } else if (status == 416) {
    // Asking for the empty tail of an object ("bytes=size-") is not an error.
    auto header = headers_.Get("Content-Range");
    auto size = header ? ParseUnsatisfiedRange(*header) : std::nullopt;
    if (!size || *size != next || (end && *end != next)) {
      http_error_ = status;
      return true;
    }
    stream_pos_ = next;
    stream_end_ = next;
    total = static_cast<int64_t>(*size);
    reported_status = 206;
  } else if (status == 0) {
    fatal_ = Internal("no HTTP status line from " + state_->redacted_url);
    return false;
  } else {
    http_error_ = status;
    return true;
  }
  accepted_ = true;
  response_total_ = total;

  std::string etag = headers_.Get("ETag").value_or("");
  if (state_->response_sent) {
    fatal_ = CheckResumedResponse(total, etag);
    return fatal_.ok();
  }
  ResponseInfo info;
  info.http_status = reported_status;
  info.total_length = total;
  char* effective_url = nullptr;
  if (curl_easy_getinfo(curl_, CURLINFO_EFFECTIVE_URL, &effective_url) == CURLE_OK &&
      effective_url != nullptr) {
    info.effective_url = effective_url;
  }
  info.content_type = headers_.Get("Content-Type").value_or("");
  if (auto link = headers_.Get("Link")) {
    info.next_page = NextLink(*link, info.effective_url);
  }
  state_->response_sent = true;
  state_->total_length = total;
  state_->etag = etag;
  fatal_ = (*state_->on_response)(info);
  return fatal_.ok();
}

Status FetchAttempt::CheckResumedResponse(int64_t total, const std::string& etag) {
  if (state_->total_length >= 0 && total >= 0 && state_->total_length != total) {
    return FailedPrecondition("object changed while fetching " + state_->redacted_url +
                              ": size was " + std::to_string(state_->total_length) + ", now " +
                              std::to_string(total));
  }
  if (!state_->etag.empty() && !etag.empty() && state_->etag != etag) {
    return FailedPrecondition("object changed while fetching " + state_->redacted_url + ": ETag " +
                              state_->etag + " became " + etag);
  }
  return Status::Ok();
}

size_t FetchAttempt::OnBody(const char* data, size_t n) {
  if (!body_started_ && !BeginBody()) {
    return 0;
  }
  if (!accepted_) {
    discarded_ += n;
    if (error_body_.size() < kMaxErrorBody) {
      error_body_.append(data, std::min<size_t>(n, kMaxErrorBody - error_body_.size()));
    }
    return discarded_ > kMaxDiscardedBytes ? 0 : n;
  }
  const uint64_t begin = stream_pos_;
  stream_pos_ += n;
  const std::optional<uint64_t> end = state_->end();
  uint64_t from = std::max(begin, state_->next());
  uint64_t to = stream_pos_;
  if (end) {
    to = std::min(to, *end);
  }
  if (stream_end_) {
    to = std::min(to, *stream_end_);
  }
  if (from < to) {
    Status status = (*state_->on_data)(data + (from - begin), static_cast<size_t>(to - from));
    state_->delivered += to - from;
    if (!status.ok()) {
      fatal_ = std::move(status);
      return 0;
    }
  }
  bool stream_done = stream_end_ && stream_pos_ >= *stream_end_;
  if (end && state_->next() >= *end && !stream_done) {
    finished_early_ = true;  // everything wanted is delivered; drop the rest of the body
    return 0;
  }
  return n;
}

AttemptResult FetchAttempt::Finish(CURLcode code) {
  using Kind = AttemptResult::Kind;
  if (!fatal_.ok()) {
    return {Kind::kFail, fatal_};
  }
  if (finished_early_) {
    return {Kind::kDone, Status::Ok()};
  }
  if (code == CURLE_OK && !body_started_ && !BeginBody()) {
    return {Kind::kFail, fatal_};
  }
  if (http_error_ != 0) {
    MappedError error = MapHttpStatus(http_error_, state_->redacted_url, error_body_);
    return {error.retryable ? Kind::kRetry : Kind::kFail, error.status};
  }
  if (code != CURLE_OK) {
    MappedError error = MapCurlCode(code, error_buffer_, state_->redacted_url);
    return {error.retryable ? Kind::kRetry : Kind::kFail, error.status, error.timed_out};
  }
  const uint64_t next = state_->next();
  const std::optional<uint64_t> end = state_->end();
  auto partial = [&](uint64_t expected) {
    return AttemptResult{
        Kind::kRetry, Unavailable("body of " + state_->redacted_url + " ended at byte " +
                                  std::to_string(next) + ", expected " + std::to_string(expected))};
  };
  if (stream_end_) {
    if (next > *stream_end_) {
      return {Kind::kFail, InvalidArgument("offset " + std::to_string(next) +
                                           " is beyond the end of " + state_->redacted_url + " (" +
                                           std::to_string(*stream_end_) + " bytes)")};
    }
    uint64_t target = end ? std::min(*end, *stream_end_) : *stream_end_;
    if (next < target) {
      return partial(target);
    }
    // The response is complete. Fewer bytes than asked are fine only at the object's end.
    bool at_object_end = response_total_ >= 0 && next >= static_cast<uint64_t>(response_total_);
    if (end && next < *end && !at_object_end) {
      return partial(*end);
    }
    return {Kind::kDone, Status::Ok()};
  }
  if (end && next < *end) {
    return partial(*end);  // close-delimited body ended early: maybe a dropped connection
  }
  return {Kind::kDone, Status::Ok()};
}

}  // namespace df::backend
