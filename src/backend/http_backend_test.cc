#include "dragonfly/backend/http_backend.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "backend/test_origin_process.h"

namespace df::backend {
namespace {

namespace fs = std::filesystem;

constexpr size_t kFileSize = 5 * 1024 * 1024 + 123;

struct Result {
  Status status;
  std::string body;
  int responses = 0;
  ResponseInfo info;
};

class HttpBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/df-backend-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    work_dir_ = new std::string(tmpl);
    fs::create_directories(*work_dir_ + "/root");
    content_ = new std::string(kFileSize, '\0');
    std::mt19937_64 rng(42);
    for (char& c : *content_) {
      c = static_cast<char>(rng());
    }
    for (const char* name : {"blob", "a", "b", "c", "d", "e", "f", "g", "h"}) {
      std::ofstream(*work_dir_ + "/root/" + name, std::ios::binary) << *content_;
    }
    auto origin = testutil::TestOriginProcess::Start(*work_dir_ + "/root", *work_dir_);
    ASSERT_TRUE(origin.ok()) << origin.status().ToString();
    origin_ = std::move(origin).value().release();
  }

  static void TearDownTestSuite() {
    delete origin_;
    origin_ = nullptr;
    if (work_dir_ != nullptr) {
      std::error_code ec;
      fs::remove_all(*work_dir_, ec);
    }
    delete work_dir_;
    delete content_;
  }

  void SetUp() override {
    ASSERT_NE(origin_, nullptr);
    options_.max_retries = 2;
    options_.retry_backoff_ms = 10;
    options_.connect_timeout_ms = 2000;
    backend_ = NewHttpBackend(options_);
    Status reset = Get("/_reset").status;
    std::string why;
    ASSERT_TRUE(reset.ok()) << reset.ToString()
                            << (origin_->Alive(&why) ? " (origin alive)" : " (origin " + why + ")");
  }

  Result Fetch(const FetchRequest& request, HttpBackend* backend = nullptr) {
    Result r;
    r.status = (backend ? backend : backend_.get())
                   ->Fetch(
                       request,
                       [&](const ResponseInfo& info) {
                         EXPECT_TRUE(r.body.empty()) << "on_response after body bytes";
                         ++r.responses;
                         r.info = info;
                         return Status::Ok();
                       },
                       [&](const char* data, size_t n) {
                         EXPECT_EQ(r.responses, 1);
                         r.body.append(data, n);
                         return Status::Ok();
                       });
    if (r.status.ok()) {
      EXPECT_EQ(r.responses, 1);
    }
    return r;
  }

  Result Get(const std::string& path_and_query, uint64_t offset = 0,
             std::optional<uint64_t> length = std::nullopt) {
    FetchRequest request;
    request.url = origin_->Url(path_and_query);
    request.offset = offset;
    request.length = length;
    return Fetch(request);
  }

  nlohmann::json Stats() {
    Result r = Get("/_stats");
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  }

  int Requests(const std::string& path) {
    auto stats = Stats();
    auto it = stats["requests"].find(path);
    return it == stats["requests"].end() ? 0 : it->get<int>();
  }

  static std::string Slice(uint64_t offset, uint64_t length) {
    return content_->substr(offset, length);
  }

  static std::string* work_dir_;
  static std::string* content_;
  static testutil::TestOriginProcess* origin_;
  HttpOptions options_;
  std::unique_ptr<HttpBackend> backend_;
};

std::string* HttpBackendTest::work_dir_ = nullptr;
std::string* HttpBackendTest::content_ = nullptr;
testutil::TestOriginProcess* HttpBackendTest::origin_ = nullptr;

TEST_F(HttpBackendTest, FullFetch) {
  Result r = Get("/blob");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.info.http_status, 200);
  EXPECT_EQ(r.info.total_length, static_cast<int64_t>(kFileSize));
  EXPECT_EQ(r.info.content_type, "application/octet-stream");
  EXPECT_EQ(r.info.effective_url, origin_->Url("/blob"));
  EXPECT_TRUE(r.body == *content_);
  auto stats = Stats();
  EXPECT_EQ(stats["requests"]["/blob"], 1);
  EXPECT_EQ(stats["bytes"]["/blob"], kFileSize);
}

TEST_F(HttpBackendTest, RangeFetch) {
  Result r = Get("/blob", 1000003, 777777);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.info.http_status, 206);
  EXPECT_EQ(r.info.total_length, static_cast<int64_t>(kFileSize));
  EXPECT_TRUE(r.body == Slice(1000003, 777777));
}

TEST_F(HttpBackendTest, OffsetToEnd) {
  Result r = Get("/blob", 4000000);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.info.total_length, static_cast<int64_t>(kFileSize));
  EXPECT_TRUE(r.body == Slice(4000000, kFileSize));
}

TEST_F(HttpBackendTest, EdgesOfTheObject) {
  Result tail = Get("/blob", kFileSize);  // empty tail: the origin answers 416
  ASSERT_TRUE(tail.status.ok()) << tail.status.ToString();
  EXPECT_TRUE(tail.body.empty());
  EXPECT_EQ(tail.info.total_length, static_cast<int64_t>(kFileSize));

  Result clamped = Get("/blob", kFileSize - 10, 100);
  ASSERT_TRUE(clamped.status.ok()) << clamped.status.ToString();
  EXPECT_TRUE(clamped.body == Slice(kFileSize - 10, 10));

  Result empty = Get("/blob", 5, 0);
  ASSERT_TRUE(empty.status.ok()) << empty.status.ToString();
  EXPECT_TRUE(empty.body.empty());

  Result beyond = Get("/blob", kFileSize + 1);
  EXPECT_EQ(beyond.status.code(), StatusCode::kInvalidArgument) << beyond.status.ToString();
}

TEST_F(HttpBackendTest, NotFound) {
  Result r = Get("/missing");
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound) << r.status.ToString();
  EXPECT_NE(r.status.message().find("404"), std::string::npos);
  EXPECT_EQ(r.responses, 0);
  EXPECT_EQ(Requests("/missing"), 1);
}

TEST_F(HttpBackendTest, ClientErrorsAreNotRetried) {
  EXPECT_EQ(Get("/a?status=403").status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Get("/b?status=401").status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Get("/c?status=400").status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Get("/d?status=410").status.code(), StatusCode::kNotFound);
  auto stats = Stats();
  for (const char* path : {"/a", "/b", "/c", "/d"}) {
    EXPECT_EQ(stats["requests"][path], 1) << path;
  }
}

TEST_F(HttpBackendTest, ServerErrorRetriedThenUnavailable) {
  Result r = Get("/blob?status=500");
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
  EXPECT_EQ(r.responses, 0);
  EXPECT_EQ(Requests("/blob"), 1 + options_.max_retries);
}

TEST_F(HttpBackendTest, TransientFailuresAreRetried) {
  FetchRequest request;
  request.url = origin_->Url("/blob?fail_first=2");
  int attempts = 0;
  request.attempts = &attempts;  // what the back-to-source span reports as its retries
  Result r = Fetch(request);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.body == *content_);
  EXPECT_EQ(Requests("/blob"), 3);
  EXPECT_EQ(attempts, 3);
}

TEST_F(HttpBackendTest, ResumesAfterConnectionReset) {
  Result r = Get("/blob?reset_after=1048576");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.responses, 1);
  EXPECT_EQ(r.info.total_length, static_cast<int64_t>(kFileSize));
  EXPECT_TRUE(r.body == *content_);
  auto stats = Stats();
  EXPECT_EQ(stats["requests"]["/blob"], 2);
  EXPECT_EQ(stats["bytes"]["/blob"], kFileSize);  // the resumed request asked only for the rest
}

TEST_F(HttpBackendTest, ResumesARangeAfterConnectionReset) {
  Result r = Get("/a?reset_after=100000", 12345, 3000000);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.body == Slice(12345, 3000000));
  EXPECT_EQ(Requests("/a"), 2);
}

// Object stores sign each request: a resumed fetch asks for a fresh signature over its own Range
// (S3 and Azure refuse a signature older than 15 minutes; Azure's covers the Range).
TEST_F(HttpBackendTest, EveryRequestIsSignedAgainWithItsRange) {
  FetchRequest request;
  request.url = origin_->Url("/a?reset_after=100000");
  request.offset = 12345;
  request.length = 3000000;
  std::vector<std::string> ranges;
  request.sign = [&](const std::string& range) -> StatusOr<std::map<std::string, std::string>> {
    ranges.push_back(range);
    return std::map<std::string, std::string>{{"X-Signature", std::to_string(ranges.size())}};
  };
  Result r = Fetch(request);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_TRUE(r.body == Slice(12345, 3000000));
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "bytes=12345-3012344");
  EXPECT_EQ(ranges[1], "bytes=" + std::to_string(12345 + 100000) + "-3012344");

  // The signature is the one sent.
  request.url = origin_->Url("/blob?echo=1");
  request.offset = 0;
  request.length.reset();
  ranges.clear();
  r = Fetch(request);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(nlohmann::json::parse(r.body)["x-signature"], "1");
  EXPECT_EQ(ranges, std::vector<std::string>{""});

  // A signer that fails stops the fetch with its error.
  request.sign = [](const std::string&) -> StatusOr<std::map<std::string, std::string>> {
    return PermissionDenied("no credentials");
  };
  EXPECT_EQ(Fetch(request).status.code(), StatusCode::kPermissionDenied);
}

TEST_F(HttpBackendTest, NoContentLength) {
  Result r = Get("/blob?nolength=1");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.info.total_length, -1);
  EXPECT_TRUE(r.body == *content_);
}

TEST_F(HttpBackendTest, ServerIgnoringRangeIsSkipped) {
  Result r = Get("/blob?ignore_range=1", 2000000, 500000);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.info.http_status, 200);
  EXPECT_EQ(r.info.total_length, static_cast<int64_t>(kFileSize));
  EXPECT_TRUE(r.body == Slice(2000000, 500000));
}

TEST_F(HttpBackendTest, WrongRangeStartIsAnError) {
  Result r = Get("/blob?shift_range=7", 100, 1000);
  EXPECT_EQ(r.status.code(), StatusCode::kInternal) << r.status.ToString();
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpBackendTest, FollowsRedirects) {
  Result r = Get("/blob?redirect=1", 10, 20);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.info.effective_url, origin_->Url("/blob"));
  EXPECT_TRUE(r.body == Slice(10, 20));
}

TEST_F(HttpBackendTest, CallbackErrorAbortsWithoutRetry) {
  FetchRequest request;
  request.url = origin_->Url("/blob");
  size_t seen = 0;
  Status s = backend_->Fetch(
      request, [](const ResponseInfo&) { return Status::Ok(); },
      [&](const char*, size_t n) {
        seen += n;
        return seen > 100000 ? Cancelled("enough") : Status::Ok();
      });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(s.message(), "enough");
  EXPECT_EQ(Requests("/blob"), 1);

  s = backend_->Fetch(
      request, [](const ResponseInfo&) { return Aborted("no thanks"); },
      [](const char*, size_t) {
        ADD_FAILURE() << "data after a failed on_response";
        return Status::Ok();
      });
  EXPECT_EQ(s.code(), StatusCode::kAborted);
  EXPECT_EQ(s.message(), "no thanks");
}

TEST_F(HttpBackendTest, PassesRequestHeaders) {
  FetchRequest request;
  request.url = origin_->Url("/blob?echo=1");
  request.headers = {{"Authorization", "Bearer s3cret"},
                     {"X-Custom", "v1"},
                     {"Accept-Encoding", "gzip"},
                     {"Range", "bytes=5-6"}};
  Result r = Fetch(request);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  auto echoed = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(echoed.is_object()) << r.body;
  EXPECT_EQ(echoed["authorization"], "Bearer s3cret");
  EXPECT_EQ(echoed["x-custom"], "v1");
  EXPECT_EQ(echoed["user-agent"], options_.user_agent);
  EXPECT_FALSE(echoed.contains("accept-encoding"));
  EXPECT_FALSE(echoed.contains("range"));

  request.headers = {{"X-Bad", "a\r\nInjected: 1"}};
  EXPECT_EQ(Fetch(request).status.code(), StatusCode::kInvalidArgument);
}

TEST_F(HttpBackendTest, TimeoutIsDeadlineExceeded) {
  FetchRequest request;
  request.url = origin_->Url("/blob?slow=200000");
  request.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  Result r = Fetch(request);
  EXPECT_EQ(r.status.code(), StatusCode::kDeadlineExceeded) << r.status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(HttpBackendTest, ConnectionRefusedIsUnavailable) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);  // nobody listens on this port now
  FetchRequest request;
  request.url = "http://user:pw@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
  Result r = Fetch(request);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
  EXPECT_EQ(r.status.message().find("pw"), std::string::npos) << r.status.message();
}

TEST_F(HttpBackendTest, RejectsNonHttpUrls) {
  FetchRequest request;
  request.url = "file:///etc/passwd";
  EXPECT_EQ(Fetch(request).status.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace df::backend
