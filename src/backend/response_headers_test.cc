#include "backend/response_headers.h"

#include <gtest/gtest.h>

#include "backend/error_mapping.h"
#include "backend/url_util.h"

namespace df::backend {
namespace {

TEST(ContentRangeTest, ParsesSatisfiedRanges) {
  auto r = ParseContentRange("bytes 10-19/100");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 10u);
  EXPECT_EQ(r->last, 19u);
  EXPECT_EQ(r->total, 100);
  r = ParseContentRange(" BYTES 0-0/*\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->total, -1);
}

TEST(ContentRangeTest, RejectsMalformed) {
  EXPECT_FALSE(ParseContentRange("bytes 19-10/100"));
  EXPECT_FALSE(ParseContentRange("bytes 0-99/99"));
  EXPECT_FALSE(ParseContentRange("bytes */100"));
  EXPECT_FALSE(ParseContentRange("items 0-1/2"));
  EXPECT_FALSE(ParseContentRange("bytes 0-x/2"));
  EXPECT_FALSE(ParseContentRange("bytes 99999999999999999999-1/2"));
}

TEST(ContentRangeTest, ParsesUnsatisfiedRange) {
  EXPECT_EQ(ParseUnsatisfiedRange("bytes */1234"), std::optional<uint64_t>(1234));
  EXPECT_FALSE(ParseUnsatisfiedRange("bytes 0-1/2"));
}

TEST(ResponseHeadersTest, KeepsOnlyTheLastBlock) {
  ResponseHeaders h;
  h.AddLine("HTTP/1.1 302 Found\r\n");
  h.AddLine("Location: /b\r\n");
  h.AddLine("Content-Length: 5\r\n");
  h.AddLine("\r\n");
  EXPECT_EQ(h.status(), 302);
  EXPECT_TRUE(h.complete());
  h.AddLine("HTTP/2 200\r\n");
  EXPECT_FALSE(h.complete());
  h.AddLine("content-type: text/plain\r\n");
  h.AddLine("\r\n");
  h.AddLine("X-Trailer: ignored\r\n");
  EXPECT_EQ(h.status(), 200);
  EXPECT_EQ(h.Get("Content-Type"), std::optional<std::string>("text/plain"));
  EXPECT_FALSE(h.Get("Location"));
  EXPECT_FALSE(h.Get("Content-Length"));
  EXPECT_FALSE(h.Get("X-Trailer"));
}

TEST(UrlUtilTest, RedactsUserinfo) {
  EXPECT_EQ(RedactUrl("https://user:secret@host:8080/p?q=1"), "https://***@host:8080/p?q=1");
  EXPECT_EQ(RedactUrl("http://host/a@b"), "http://host/a@b");
  EXPECT_EQ(RedactUrl("http://host"), "http://host");
  EXPECT_EQ(RedactUrl("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F1"
                      "&X-Amz-Signature=abc123&versionId=7#f"),
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=***"
            "&X-Amz-Signature=***&versionId=7#f");
  EXPECT_EQ(RedactUrl("http://u:p@h/x?access_token=t&OSSAccessKeyId=k&Signature=s&q-sign-time=1"),
            "http://***@h/x?access_token=***&OSSAccessKeyId=***&Signature=***&q-sign-time=1");
  EXPECT_TRUE(HasHttpScheme("HTTPS://x"));
  EXPECT_FALSE(HasHttpScheme("ftp://x"));
}

TEST(ErrorMappingTest, MapsStatuses) {
  EXPECT_EQ(MapHttpStatus(404, "u").status.code(), StatusCode::kNotFound);
  EXPECT_EQ(MapHttpStatus(410, "u").status.code(), StatusCode::kNotFound);
  EXPECT_EQ(MapHttpStatus(401, "u").status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(MapHttpStatus(403, "u").status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(MapHttpStatus(400, "u").status.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(MapHttpStatus(400, "u").retryable);
  EXPECT_TRUE(MapHttpStatus(429, "u").retryable);
  EXPECT_TRUE(MapHttpStatus(408, "u").retryable);
  EXPECT_TRUE(MapHttpStatus(503, "u").retryable);
  EXPECT_EQ(MapHttpStatus(404, "http://h/x").status.message(),
            "origin returned 404 for http://h/x");
  EXPECT_TRUE(MapCurlCode(CURLE_COULDNT_CONNECT, "", "u").retryable);
  EXPECT_TRUE(MapCurlCode(CURLE_OPERATION_TIMEDOUT, "", "u").timed_out);
  EXPECT_FALSE(MapCurlCode(CURLE_URL_MALFORMAT, "", "u").retryable);
}

TEST(ErrorMappingTest, NamesTheReasonAnObjectStoreGives) {
  // S3 (and Azure Blob, OSS, OBS, COS): an XML error document.
  const std::string s3 =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
      "<Message>The request signature we calculated does not match the signature you provided."
      "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
  EXPECT_EQ(MapHttpStatus(403, "s3://b/k", s3).status.message(),
            "origin returned 403 for s3://b/k (SignatureDoesNotMatch: The request signature we "
            "calculated does not match the signature you provided.)");
  // A JSON API (a model hub): its message, or its error.
  EXPECT_EQ(ErrorReason(R"({"error": "Repository not found"})"), "Repository not found");
  EXPECT_EQ(ErrorReason(R"({"code":"AccessDenied","message":"no \"read\" scope"})"),
            "AccessDenied: no \"read\" scope");
  // Anything else adds nothing; a long reason is cut, on one line.
  EXPECT_EQ(ErrorReason("<html>Forbidden</html>"), "");
  EXPECT_EQ(ErrorReason(""), "");
  std::string long_reason = ErrorReason("<Message>" + std::string(1000, 'x') + "\nmore</Message>");
  EXPECT_EQ(long_reason.size(), 303u);
  EXPECT_EQ(long_reason.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace df::backend
