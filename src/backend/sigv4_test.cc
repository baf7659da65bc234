#include "backend/sigv4.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/canned_http.h"
#include "dragonfly/backend/origin.h"
#include "dragonfly/backend/s3.h"
#include "dragonfly/common/digest.h"

namespace df::backend {
namespace {

nlohmann::json Suite() {
  std::ifstream in(std::string(DF_SOURCE_DIR) + "/src/backend/testdata/sigv4_suite.json");
  return nlohmann::json::parse(in);
}

// Every case of AWS's test suite that applies to S3: the canonical request, the string to sign
// and the Authorization header, byte for byte.
TEST(SigV4Test, TheAwsTestSuite) {
  const nlohmann::json suite = Suite();
  const sigv4::Credentials creds{suite["access_key_id"], suite["secret_access_key"], ""};
  ASSERT_GE(suite["cases"].size(), 20u);
  for (const auto& c : suite["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    sigv4::Request r;
    r.method = c["method"];
    r.path = c["path"];
    r.query = c["query"];
    std::string amz_date;
    for (const auto& h : c["headers"]) {
      r.headers.emplace_back(h[0], h[1]);
      if (h[0] == "X-Amz-Date") {
        amz_date = h[1];
      }
    }
    const std::string body = c["body"];
    r.payload_hash = Sha256Hex(body.data(), body.size());
    const std::string creq = sigv4::CanonicalRequest(r);
    EXPECT_EQ(creq, c["creq"].get<std::string>());
    EXPECT_EQ(sigv4::StringToSign(amz_date, suite["region"].get<std::string>(),
                                  suite["service"].get<std::string>(), creq),
              c["sts"].get<std::string>());
    EXPECT_EQ(sigv4::Authorization(creds, r, amz_date, suite["region"].get<std::string>(),
                                   suite["service"].get<std::string>()),
              c["authz"].get<std::string>());
  }
}

// AWS's S3 documentation example (GET Object with a range, signed payload hash of nothing).
TEST(SigV4Test, TheS3DocumentationExample) {
  sigv4::Request r;
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", Sha256Hex("", 0)},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_hash = Sha256Hex("", 0);
  EXPECT_EQ(
      sigv4::Authorization({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, r,
                           "20130524T000000Z", "us-east-1", "s3"),
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3Test, UrlsMapToPathOrVirtualHostStyleAndAreSigned) {
  S3Options path_style{"http://127.0.0.1:9000", "eu-west-1", true, "AKID", "SECRET", ""};
  auto r = SignS3Get(path_style, "s3://models/llama/weights 1.bin?versionId=3", "20261207T080000Z");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->url, "http://127.0.0.1:9000/models/llama/weights%201.bin?versionId=3");
  EXPECT_EQ(r->headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
  EXPECT_EQ(r->headers["x-amz-date"], "20261207T080000Z");
  EXPECT_EQ(r->headers["Authorization"].rfind(
                "AWS4-HMAC-SHA256 Credential=AKID/20261207/eu-west-1/s3/aws4_request, "
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=",
                0),
            0u)
      << r->headers["Authorization"];
  EXPECT_EQ(r->headers.count("x-amz-security-token"), 0u);

  // AWS itself (no endpoint): virtual-hosted style in the region; a session token is signed.
  S3Options aws{"", "us-west-2", false, "AKID", "SECRET", "TOKEN"};
  auto v = SignS3Get(aws, "s3://bucket/a/b.bin", "20261207T080000Z");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->url, "https://bucket.s3.us-west-2.amazonaws.com/a/b.bin");
  EXPECT_EQ(v->headers["x-amz-security-token"], "TOKEN");
  EXPECT_NE(v->headers["Authorization"].find("x-amz-security-token"), std::string::npos);

  // Anonymous (a public bucket): no signature at all.
  auto anon = SignS3Get({"http://h:1", "", true, "", "", ""}, "s3://b/k", "20261207T080000Z");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->url, "http://h:1/b/k");
  EXPECT_TRUE(anon->headers.empty());

  for (const char* bad : {"s3://", "s3://bucket", "s3://bucket/", "s3:///key", "s3://b/?x=1"}) {
    EXPECT_EQ(SignS3Get(path_style, bad, "20261207T080000Z").status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(S3Test, OptionsAreValidatedAndTheSecretIsNeverInTheError) {
  EXPECT_TRUE(ValidateS3Options({"http://127.0.0.1:9000", "", true, "AKID", "SECRET", ""}).ok());
  Status half = ValidateS3Options({"", "", false, "AKID", "", ""});
  EXPECT_EQ(half.code(), StatusCode::kInvalidArgument);
  Status other = ValidateS3Options({"", "", false, "", "SECRET-VALUE", ""});
  EXPECT_EQ(other.message().find("SECRET-VALUE"), std::string::npos);
  for (const char* bad :
       {"127.0.0.1:9000", "ftp://h", "http://", "http://h/path", "http://user@h"}) {
    EXPECT_FALSE(ValidateS3Options({bad, "", true, "", "", ""}).ok()) << bad;
  }
}

}  // namespace
}  // namespace df::backend

namespace df::backend {
namespace {

using testutil::CannedHttp;

// The S3 backend over `http` (kept alive by the returned pair).
struct S3Under {
  std::unique_ptr<CannedHttp> http = std::make_unique<CannedHttp>();
  std::unique_ptr<HttpBackend> s3;
  explicit S3Under(S3Options o) : s3(NewS3Backend(*http, std::move(o))) {}
};

std::string Page(const std::vector<std::pair<std::string, int>>& objects, const std::string& next) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>";
  for (const auto& [key, size] : objects) {
    xml += "<Contents><Key>" + key + "</Key><Size>" + std::to_string(size) + "</Size></Contents>";
  }
  xml += next.empty() ? "<IsTruncated>false</IsTruncated>"
                      : "<IsTruncated>true</IsTruncated><NextContinuationToken>" + next +
                            "</NextContinuationToken>";
  return xml + "</ListBucketResult>";
}

TEST(S3Test, ListingFollowsContinuationTokensAndKeepsNamesUnderThePrefix) {
  S3Under u({"http://127.0.0.1:9", "", true, "AK", "SK", ""});
  u.http->answers = {
      {Page({{"data/a.bin", 3}, {"data/sub/", 0}, {"data/sub/b&amp;c.bin", 5}}, "tok+1")},
      {Page({{"data/sub/d e?.bin", 7}}, "")}};
  auto listed = u.s3->List({.url = "s3://models/data"}, 100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 3u);  // the "folder" marker is not an object
  EXPECT_EQ((*listed)[0].url, "s3://models/data/a.bin");
  EXPECT_EQ((*listed)[0].path, "a.bin");
  EXPECT_EQ((*listed)[0].size, 3);
  EXPECT_EQ((*listed)[1].path, "sub/b&c.bin");
  EXPECT_EQ((*listed)[2].path, "sub/d e?.bin");
  EXPECT_EQ((*listed)[2].url, "s3://models/data/sub/d%20e%3F.bin");  // fetchable as written
  ASSERT_EQ(u.http->asked.size(), 2u);
  EXPECT_EQ(u.http->asked[0].url, "http://127.0.0.1:9/models?list-type=2&prefix=data%2F");
  EXPECT_EQ(u.http->asked[1].url,
            "http://127.0.0.1:9/models?list-type=2&prefix=data%2F&continuation-token=tok%2B1");
  EXPECT_NE(u.http->asked[1].headers.at("Authorization").find("Credential=AK/"), std::string::npos);
}

TEST(S3Test, AFetchIsSignedForEveryRequest) {
  S3Under u({"http://127.0.0.1:9", "", true, "AK", "SK", ""});
  u.http->answers = {{"bytes"}};
  std::string got;
  FetchRequest r;
  r.url = "s3://models/w.bin";
  ASSERT_TRUE(u.s3->Fetch(
                      r, [](const ResponseInfo&) { return Status::Ok(); },
                      [&](const char* d, size_t n) {
                        got.append(d, n);
                        return Status::Ok();
                      })
                  .ok());
  EXPECT_EQ(got, "bytes");
  ASSERT_EQ(u.http->asked.size(), 1u);
  EXPECT_EQ(u.http->asked[0].url, "http://127.0.0.1:9/models/w.bin");
  EXPECT_TRUE(u.http->asked[0].sign);  // the HTTP backend calls it before each request
  EXPECT_NE(u.http->asked[0].headers.at("Authorization").find("Credential=AK/"), std::string::npos);
}

TEST(S3Test, AListingThatWouldEscapeTheDirectoryIsRefused) {
  for (const char* key : {"data/../../etc/passwd", "data//x", "elsewhere/x"}) {
    S3Under u({"http://127.0.0.1:9", "", true, "", "", ""});
    u.http->answers = {{Page({{key, 1}}, "")}};
    auto listed = u.s3->List({.url = "s3://models/data/"}, 100);
    EXPECT_EQ(listed.status().code(), StatusCode::kInvalidArgument) << key;
  }
  S3Under u({"http://127.0.0.1:9", "", true, "", "", ""});
  u.http->answers = {{Page({{"data/a", 1}, {"data/b", 1}, {"data/c", 1}}, "")}};
  EXPECT_EQ(u.s3->List({.url = "s3://models/data/"}, 2).status().code(),
            StatusCode::kResourceExhausted);
  auto plain = NewOriginBackend(std::make_unique<CannedHttp>(), {});
  EXPECT_EQ(plain->List({.url = "https://h/dir/"}, 10).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(plain->List({.url = "ftp://h/dir/"}, 10).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace df::backend
