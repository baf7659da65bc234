// ResolveImage against an in-process fake registry: the auth flows and every error branch a
// real registry cannot be made to show (test/e2e/test_registry_resolve.py covers a real one).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "dragonfly/common/digest.h"
#include "dragonfly/common/net.h"
#include "dragonfly/manager/registry.h"
#include "manager/registry/manifest.h"

namespace df::manager::registry {
namespace {

using Json = nlohmann::json;

struct HttpRequest {
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // names lower-case
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One request per connection, answered by `handler` on the server thread.
class FakeServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    auto l = net::Listener::Open("127.0.0.1", 0);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    listen_ = std::move(l).value();
    port_ = listen_.port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<HttpRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      auto accepted = listen_.Accept(50);
      if (!accepted.ok() || !accepted->valid()) {
        continue;
      }
      net::Fd conn = std::move(accepted).value();
      net::SetTimeouts(conn.get(), 5000);
      std::string raw;
      char buf[4096];
      while (raw.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = read(conn.get(), buf, sizeof(buf));
        if (n <= 0) {
          break;
        }
        raw.append(buf, static_cast<size_t>(n));
      }
      HttpRequest req;
      size_t line_end = raw.find("\r\n");
      std::string first = raw.substr(0, line_end);
      size_t sp1 = first.find(' ');
      size_t sp2 = first.find(' ', sp1 + 1);
      req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = line_end + 2;
      while (pos < raw.size()) {
        size_t end = raw.find("\r\n", pos);
        if (end == std::string::npos || end == pos) {
          break;
        }
        std::string line = raw.substr(pos, end - pos);
        size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        req.headers[name] = value;
        pos = end + 2;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      HttpReply reply = handler_(req);
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
      for (const auto& [k, v] : reply.headers) {
        out += k + ": " + v + "\r\n";
      }
      out += "Content-Length: " + std::to_string(reply.body.size()) +
             "\r\nConnection: close\r\n\r\n" + reply.body;
      (void)net::WriteAll(conn.get(), out.data(), out.size());
    }
  }

  Handler handler_;
  net::Listener listen_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<HttpRequest> requests_;
};

std::string Sha(const std::string& body) { return "sha256:" + Sha256Hex(body.data(), body.size()); }

std::string D(char c) { return "sha256:" + std::string(64, c); }

std::string ImageManifest(std::string_view type = kOciManifest) {
  Json m = {{"schemaVersion", 2},
            {"mediaType", type},
            {"config", {{"mediaType", "cfg"}, {"digest", D('c')}, {"size", 7}}},
            {"layers", Json::array({{{"mediaType", "l0"}, {"digest", D('0')}, {"size", 100}},
                                    {{"mediaType", "l1"}, {"digest", D('1')}, {"size", 200}}})}};
  return m.dump();
}

HttpReply Manifest(const std::string& body, std::string_view type = kOciManifest) {
  return {200, {{"Content-Type", std::string(type)}}, body};
}

HttpReply RegistryError(int status, const std::string& code, const std::string& message = "m") {
  Json j = {{"errors", Json::array({{{"code", code}, {"message", message}}})}};
  return {status, {{"Content-Type", "application/json"}}, j.dump()};
}

ResolveRequest Request(const FakeServer& server, const std::string& path) {
  ResolveRequest r;
  r.manifest_url = server.Url() + path;
  r.tls.retry_backoff_ms = 1;
  r.tls.max_retries = 1;
  r.timeout_s = 20;
  return r;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ResolveImageTest, AnonymousImageManifest) {
  const std::string body = ImageManifest();
  FakeServer server([&](const HttpRequest& req) {
    if (req.target == "/v2/team/app/manifests/v1") {
      return Manifest(body);
    }
    return RegistryError(404, "MANIFEST_UNKNOWN");
  });
  ResolveRequest req = Request(server, "/v2/team/app/manifests/v1");
  req.headers = {{"X-Custom", "1"}, {"accept", "text/plain"}};
  auto r = ResolveImage(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->manifest_digest, Sha(body));
  EXPECT_EQ(r->manifest_media_type, kOciManifest);
  EXPECT_EQ(r->index_digest, "");
  ASSERT_EQ(r->blobs.size(), 3u);
  EXPECT_EQ(r->blobs[0].digest, D('c'));
  EXPECT_EQ(r->blobs[0].size, 7);
  EXPECT_EQ(r->blobs[0].media_type, "cfg");
  EXPECT_EQ(r->blobs[0].url, server.Url() + "/v2/team/app/blobs/" + D('c'));
  EXPECT_EQ(r->blobs[1].digest, D('0'));
  EXPECT_EQ(r->blobs[2].digest, D('1'));
  EXPECT_EQ(r->blobs[2].size, 200);
  EXPECT_EQ(r->headers, (HeaderList{{"X-Custom", "1"}}));
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].Header("accept"), ManifestAccept());
  EXPECT_EQ(seen[0].Header("x-custom"), "1");
  EXPECT_EQ(seen[0].Header("authorization"), "");
}

// A registry behind a token server on the same port (alice:secret), like docker-registry's
// token auth: the token comes back as "access_token" only.
class TokenFlowTest : public ::testing::Test {
 protected:
  TokenFlowTest()
      : manifest_(ImageManifest(kDockerManifest)),
        server_([this](const HttpRequest& req) { return Handle(req); }) {}

  HttpReply Handle(const HttpRequest& req) {
    if (req.target.rfind("/token", 0) == 0) {
      std::string auth = req.Header("authorization");
      if (!auth.empty() && auth != "Basic YWxpY2U6c2VjcmV0") {
        return {401, {}, R"({"error":"invalid_grant","error_description":"bad password"})"};
      }
      Json j = {{"access_token", auth.empty() ? "anon-token" : "alice-token"}, {"expires_in", 120}};
      return {200, {{"Content-Type", "application/json"}}, j.dump()};
    }
    std::string auth = req.Header("authorization");
    bool ok = auth == "Bearer alice-token" || (public_ && auth == "Bearer anon-token");
    if (!ok) {
      HttpReply r = RegistryError(401, "UNAUTHORIZED", "authentication required");
      r.headers.emplace_back("WWW-Authenticate",
                             "Bearer realm=\"" + server_.Url() +
                                 "/token\",service=\"reg\",scope=\"repository:team/app:pull\"");
      return r;
    }
    return Manifest(manifest_, kDockerManifest);
  }

  std::string manifest_;
  std::atomic<bool> public_{false};
  FakeServer server_;  // last: its thread uses the members above
};

TEST_F(TokenFlowTest, UsernameAndPassword) {
  ResolveRequest req = Request(server_, "/v2/team/app/manifests/v1");
  req.username = "alice";
  req.password = "secret";
  auto r = ResolveImage(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers, (HeaderList{{"Authorization", "Bearer alice-token"}}));
  EXPECT_EQ(r->token_expires_in_s, 120);
  EXPECT_EQ(r->blobs.size(), 3u);
  auto seen = server_.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].target, "/token?service=reg&scope=repository%3Ateam%2Fapp%3Apull");
  EXPECT_EQ(seen[2].Header("authorization"), "Bearer alice-token");
}

TEST_F(TokenFlowTest, BasicAuthorizationHeaderIsUsedAtTheTokenServer) {
  ResolveRequest req = Request(server_, "/v2/team/app/manifests/v1");
  req.headers = {{"authorization", "Basic YWxpY2U6c2VjcmV0"}};
  auto r = ResolveImage(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers, (HeaderList{{"Authorization", "Bearer alice-token"}}));
}

TEST_F(TokenFlowTest, BearerHeaderIsSentAsIs) {
  ResolveRequest req = Request(server_, "/v2/team/app/manifests/v1");
  req.headers = {{"Authorization", "Bearer alice-token"}};
  auto r = ResolveImage(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(r->headers, (HeaderList{{"Authorization", "Bearer alice-token"}}));
  EXPECT_EQ(r->token_expires_in_s, 0);
}

TEST_F(TokenFlowTest, AnonymousTokenForAPublicRepository) {
  public_ = true;
  auto r = ResolveImage(Request(server_, "/v2/team/app/manifests/v1"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers, (HeaderList{{"Authorization", "Bearer anon-token"}}));
  EXPECT_EQ(server_.requests()[1].Header("authorization"), "");
}

TEST_F(TokenFlowTest, AnonymousTokenRejected) {
  auto r = ResolveImage(Request(server_, "/v2/team/app/manifests/v1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(r.status().message(), "401")) << r.status().message();
  EXPECT_TRUE(Contains(r.status().message(), "UNAUTHORIZED")) << r.status().message();
  EXPECT_TRUE(Contains(r.status().message(), "no credentials given")) << r.status().message();
  EXPECT_FALSE(Contains(r.status().message(), "anon-token")) << r.status().message();
}

TEST_F(TokenFlowTest, WrongPassword) {
  ResolveRequest req = Request(server_, "/v2/team/app/manifests/v1");
  req.username = "alice";
  req.password = "hunter2";
  auto r = ResolveImage(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  const std::string m = r.status().message();
  EXPECT_TRUE(Contains(m, "token server returned 401")) << m;
  EXPECT_TRUE(Contains(m, "bad password")) << m;
  EXPECT_TRUE(Contains(m, "user \"alice\"")) << m;
  EXPECT_TRUE(Contains(m, "team/app:v1")) << m;
  EXPECT_FALSE(Contains(m, "hunter2")) << m;
}

TEST(ResolveImageTest, BasicChallenge) {
  FakeServer server([](const HttpRequest& req) {
    if (req.Header("authorization") != "Basic YWxpY2U6c2VjcmV0") {
      HttpReply r = RegistryError(401, "UNAUTHORIZED");
      r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"reg\"");
      return r;
    }
    return Manifest(ImageManifest());
  });
  ResolveRequest req = Request(server, "/v2/x/manifests/latest");
  auto anonymous = ResolveImage(req);
  EXPECT_EQ(anonymous.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(Contains(anonymous.status().message(), "Basic credentials"))
      << anonymous.status().message();

  req.username = "alice";
  req.password = "wrong";
  auto wrong = ResolveImage(req);
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(Contains(wrong.status().message(), "wrong"));

  req.password = "secret";
  auto r = ResolveImage(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->headers, (HeaderList{{"Authorization", "Basic YWxpY2U6c2VjcmV0"}}));
}

TEST(ResolveImageTest, IndexPicksThePlatformAndVerifiesTheChild) {
  const std::string amd = ImageManifest();
  const std::string arm = ImageManifest(kDockerManifest);
  Json index = {
      {"schemaVersion", 2},
      {"mediaType", kDockerManifestList},
      {"manifests", Json::array({{{"mediaType", kOciManifest},
                                  {"digest", Sha(amd)},
                                  {"size", amd.size()},
                                  {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
                                 {{"mediaType", kDockerManifest},
                                  {"digest", Sha(arm)},
                                  {"size", arm.size()},
                                  {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}}})}};
  const std::string index_body = index.dump();
  std::string served_arm = arm;
  FakeServer server([&](const HttpRequest& req) {
    if (req.target == "/v2/x/manifests/multi") {
      return Manifest(index_body, kDockerManifestList);
    }
    if (req.target == "/v2/x/manifests/" + Sha(amd)) {
      return Manifest(amd);
    }
    if (req.target == "/v2/x/manifests/" + Sha(arm)) {
      return Manifest(served_arm, kDockerManifest);
    }
    return RegistryError(404, "MANIFEST_UNKNOWN");
  });
  ResolveRequest req = Request(server, "/v2/x/manifests/multi");
  req.platform = "linux/arm64";
  auto r = ResolveImage(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->index_digest, Sha(index_body));
  EXPECT_EQ(r->manifest_digest, Sha(arm));
  EXPECT_EQ(r->manifest_media_type, kDockerManifest);
  EXPECT_EQ(r->blobs.size(), 3u);

  req.platform = "";  // the default, linux/amd64
  auto by_default = ResolveImage(req);
  ASSERT_TRUE(by_default.ok()) << by_default.status().ToString();
  EXPECT_EQ(by_default->manifest_digest, Sha(amd));

  req.platform = "windows/amd64";
  auto missing = ResolveImage(req);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status().message(), "available: linux/amd64, linux/arm64"))
      << missing.status().message();

  req.platform = "linux";
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);

  // The registry serving other bytes than the index names: same size, other digest.
  served_arm = arm;
  served_arm[served_arm.size() - 2] = ' ';
  req.platform = "linux/arm64";
  auto tampered = ResolveImage(req);
  EXPECT_EQ(tampered.status().code(), StatusCode::kDataLoss) << tampered.status().ToString();

  served_arm = arm + " ";
  auto longer = ResolveImage(req);
  EXPECT_EQ(longer.status().code(), StatusCode::kDataLoss) << longer.status().ToString();
}

TEST(ResolveImageTest, ByDigestVerifiesTheBody) {
  const std::string body = ImageManifest();
  FakeServer server([&](const HttpRequest&) { return Manifest(body); });
  auto ok = ResolveImage(Request(server, "/v2/x/manifests/" + Sha(body)));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->manifest_digest, Sha(body));
  auto bad = ResolveImage(Request(server, "/v2/x/manifests/" + D('9')));
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss) << bad.status().ToString();
}

TEST(ResolveImageTest, DockerContentDigestMismatch) {
  FakeServer server([&](const HttpRequest&) {
    HttpReply r = Manifest(ImageManifest());
    r.headers.emplace_back("Docker-Content-Digest", D('7'));
    return r;
  });
  auto r = ResolveImage(Request(server, "/v2/x/manifests/v1"));
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
}

TEST(ResolveImageTest, HttpErrorsMapToCodes) {
  int status = 404;
  FakeServer server([&](const HttpRequest&) {
    return RegistryError(status, status == 404 ? "MANIFEST_UNKNOWN" : "DENIED", "nope");
  });
  auto not_found = ResolveImage(Request(server, "/v2/x/manifests/v1"));
  EXPECT_EQ(not_found.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(not_found.status().message(), "returned 404"));
  EXPECT_TRUE(Contains(not_found.status().message(), "MANIFEST_UNKNOWN: nope"))
      << not_found.status().message();
  status = 403;
  EXPECT_EQ(ResolveImage(Request(server, "/v2/x/manifests/v1")).status().code(),
            StatusCode::kPermissionDenied);
  status = 400;
  EXPECT_EQ(ResolveImage(Request(server, "/v2/x/manifests/v1")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ResolveImageTest, TransientErrorsAreRetried) {
  std::atomic<int> calls{0};
  FakeServer server([&](const HttpRequest&) {
    return calls++ == 0 ? RegistryError(503, "UNAVAILABLE") : Manifest(ImageManifest());
  });
  auto r = ResolveImage(Request(server, "/v2/x/manifests/v1"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls.load(), 2);
}

TEST(ResolveImageTest, PersistentServerErrorIsUnavailable) {
  FakeServer server([&](const HttpRequest&) { return RegistryError(500, "INTERNAL"); });
  auto r = ResolveImage(Request(server, "/v2/x/manifests/v1"));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_TRUE(Contains(r.status().message(), "500")) << r.status().message();
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(ResolveImageTest, ConnectionRefusedIsUnavailable) {
  uint16_t port = 0;
  {
    auto l = net::Listener::Open("127.0.0.1", 0);
    ASSERT_TRUE(l.ok());
    port = l->port();
  }
  ResolveRequest req;
  req.manifest_url = "http://127.0.0.1:" + std::to_string(port) + "/v2/x/manifests/v1";
  req.tls.max_retries = 0;
  auto r = ResolveImage(req);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST(ResolveImageTest, OversizedManifest) {
  FakeServer server([&](const HttpRequest&) { return Manifest(std::string((4 << 20) + 1, ' ')); });
  auto r = ResolveImage(Request(server, "/v2/x/manifests/v1"));
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().ToString();
}

TEST(ResolveImageTest, Schema1IsRejected) {
  FakeServer server([&](const HttpRequest&) {
    return Manifest(R"({"schemaVersion":1,"fsLayers":[]})",
                    "application/vnd.docker.distribution.manifest.v1+prettyjws");
  });
  auto r = ResolveImage(Request(server, "/v2/x/manifests/v1"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(r.status().message(), "schema 1")) << r.status().message();
}

TEST(ResolveImageTest, Timeout) {
  FakeServer server([&](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return Manifest(ImageManifest());
  });
  ResolveRequest req = Request(server, "/v2/x/manifests/v1");
  req.timeout_s = 1;
  auto r = ResolveImage(req);
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
}

TEST(ResolveImageTest, InvalidInput) {
  ResolveRequest req;
  req.manifest_url = "oci://h/v2/x/manifests/v1";
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);
  req.manifest_url = "http://127.0.0.1:1/v2/x/manifests/v1";
  req.platform = "linux/amd64/v2/x";
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);
  req.platform = "linux/amd64";
  req.headers = {{"Authorization", "Bearer a\r\nX-Evil: 1"}};
  auto header = ResolveImage(req);
  EXPECT_EQ(header.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Contains(header.status().message(), "Bearer a"));
  req.headers = {{"Bad Name", "x"}};
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);
  req.headers = {};
  req.password = "p";
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);
  req.username = "a:b";
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);
  req.username = "a";
  req.timeout_s = 0;
  EXPECT_EQ(ResolveImage(req).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace df::manager::registry
