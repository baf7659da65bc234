#include "manager/registry/reference.h"

#include <gtest/gtest.h>

#include <string>

namespace df::manager::registry {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ParseManifestUrlTest, TagReference) {
  auto url = ParseManifestUrl("https://index.docker.io/v2/library/alpine/manifests/3.19");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->authority, "index.docker.io");
  EXPECT_EQ(url->repository, "library/alpine");
  EXPECT_EQ(url->reference, "3.19");
  EXPECT_FALSE(url->by_digest);
  EXPECT_EQ(url->ImageName(), "index.docker.io/library/alpine:3.19");
  EXPECT_EQ(url->BlobUrl(kDigest), "https://index.docker.io/v2/library/alpine/blobs/" + kDigest);
  EXPECT_EQ(url->ManifestUrlFor(kDigest),
            "https://index.docker.io/v2/library/alpine/manifests/" + kDigest);
}

TEST(ParseManifestUrlTest, DigestReferencePortAndHttp) {
  auto url = ParseManifestUrl("HTTP://127.0.0.1:5000/v2/a/b/c/manifests/" + kDigest);
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->authority, "127.0.0.1:5000");
  EXPECT_EQ(url->repository, "a/b/c");
  EXPECT_TRUE(url->by_digest);
  EXPECT_EQ(url->ImageName(), "127.0.0.1:5000/a/b/c@" + kDigest);
}

TEST(ParseManifestUrlTest, RepositoryNamedManifests) {
  auto url = ParseManifestUrl("https://h/v2/team/manifests/manifests/v1");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->repository, "team/manifests");
  EXPECT_EQ(url->reference, "v1");
}

TEST(ParseManifestUrlTest, Ipv6Authority) {
  auto url = ParseManifestUrl("https://[::1]:8443/v2/x/manifests/latest");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->authority, "[::1]:8443");
}

TEST(ParseManifestUrlTest, Rejects) {
  const char* bad[] = {
      "ftp://h/v2/x/manifests/latest",          // scheme
      "h/v2/x/manifests/latest",                // no scheme
      "https:///v2/x/manifests/latest",         // no host
      "https://h:0/v2/x/manifests/latest",      // port
      "https://h:99999/v2/x/manifests/latest",  // port
      "https://h:/v2/x/manifests/latest",       // empty port
      "https://h",                              // no path
      "https://h/v1/x/manifests/latest",        // not /v2/
      "https://h/v2/x/blobs/latest",            // not a manifest
      "https://h/v2/manifests/latest",          // no repository
      "https://h/v2/X/manifests/latest",        // upper-case repository
      "https://h/v2/a//b/manifests/latest",     // empty component
      "https://h/v2/a-/manifests/latest",       // trailing separator
      "https://h/v2/a.-b/manifests/latest",     // mixed separator
      "https://h/v2/x/manifests/",              // no reference
      "https://h/v2/x/manifests/.tag",          // bad tag
      "https://h/v2/x/manifests/sha256:abc",    // short digest
      "https://h/v2/x/manifests/md5:0123",      // unsupported algorithm
      "https://h/v2/x/manifests/latest?x=1",    // query
      "https://h/v2/x/manifests/latest#frag",   // fragment
  };
  for (const char* url : bad) {
    auto parsed = ParseManifestUrl(url);
    EXPECT_FALSE(parsed.ok()) << url;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << url;
  }
  auto scheme = ParseManifestUrl("ftp://h/v2/x/manifests/latest");
  EXPECT_NE(scheme.status().message().find("only http and https"), std::string::npos)
      << scheme.status().message();
}

TEST(ParseManifestUrlTest, CredentialsInUrlAreRejectedWithoutEchoingThem) {
  auto url = ParseManifestUrl("https://user:s3cret@h/v2/x/manifests/latest");
  ASSERT_FALSE(url.ok());
  EXPECT_EQ(url.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(url.status().message().find("s3cret"), std::string::npos);
}

TEST(IsSupportedDigestTest, Sha256AndSha512) {
  EXPECT_TRUE(IsSupportedDigest(kDigest));
  EXPECT_TRUE(IsSupportedDigest("sha512:" + std::string(128, '0')));
  EXPECT_FALSE(IsSupportedDigest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsSupportedDigest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(IsSupportedDigest("sha384:" + std::string(96, 'a')));
  EXPECT_FALSE(IsSupportedDigest(std::string(64, 'a')));
  EXPECT_FALSE(IsSupportedDigest("sha256:../../etc/passwd"));
}

TEST(TagAndRepositoryTest, Grammar) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("_v1.2-rc3"));
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
  EXPECT_FALSE(IsValidTag("-x"));
  EXPECT_FALSE(IsValidTag("a/b"));
  EXPECT_TRUE(IsValidRepository("library/alpine"));
  EXPECT_TRUE(IsValidRepository("a__b/c--d/e.f_g"));
  EXPECT_FALSE(IsValidRepository("a___b"));
  EXPECT_FALSE(IsValidRepository("/a"));
  EXPECT_FALSE(IsValidRepository(std::string(256, 'a')));
}

TEST(PlatformTest, Parse) {
  auto p = ParsePlatform("Linux/ARM64/v8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->os, "linux");
  EXPECT_EQ(p->architecture, "arm64");
  EXPECT_EQ(p->variant, "v8");
  EXPECT_EQ(p->ToString(), "linux/arm64/v8");
  auto q = ParsePlatform("linux/amd64");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->variant, "");
  EXPECT_EQ(q->ToString(), "linux/amd64");
  for (const char* bad :
       {"", "linux", "linux/", "/amd64", "linux/amd64/", "a/b/c/d", "linux/amd 64", "linux//v8"}) {
    auto r = ParsePlatform(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParsePlatform("amd64").status().message().find("os/arch[/variant]"), std::string::npos);
}

TEST(PlatformTest, Matching) {
  auto match = [](const char* a, const char* b) {
    auto pa = ParsePlatform(a);
    auto pb = ParsePlatform(b);
    EXPECT_TRUE(pa.ok() && pb.ok()) << a << " " << b;
    return PlatformMatches(*pa, *pb);
  };
  EXPECT_TRUE(match("linux/amd64", "linux/amd64"));
  EXPECT_TRUE(match("linux/amd64", "linux/x86_64"));
  EXPECT_TRUE(match("linux/amd64", "linux/amd64/v1"));
  EXPECT_FALSE(match("linux/amd64", "linux/arm64"));
  EXPECT_FALSE(match("linux/amd64", "windows/amd64"));
  EXPECT_TRUE(match("linux/arm64", "linux/arm64/v8"));
  EXPECT_TRUE(match("linux/arm64/v8", "linux/aarch64"));
  EXPECT_TRUE(match("linux/arm", "linux/arm/v7"));
  EXPECT_TRUE(match("linux/arm/7", "linux/armhf"));
  EXPECT_FALSE(match("linux/arm/v6", "linux/arm/v7"));
  EXPECT_FALSE(match("linux/arm", "linux/arm/v6"));
  EXPECT_TRUE(match("linux/386", "linux/i386"));
  EXPECT_TRUE(match("darwin/arm64", "macos/arm64"));
}

}  // namespace
}  // namespace df::manager::registry
