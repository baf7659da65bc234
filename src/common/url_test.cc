#include "dragonfly/common/url.h"

#include <gtest/gtest.h>

namespace df {
namespace {

std::string Norm(const std::string& s) {
  auto u = ParseUrl(s);
  return u.ok() ? u->ToString() : "error: " + u.status().message();
}

TEST(UrlTest, NormalFormIsWhatIsFetched) {
  EXPECT_EQ(Norm("HTTP://Registry.Example:80/v2/x/blobs/sha256:ab?ns=a#frag"),
            "http://registry.example/v2/x/blobs/sha256:ab?ns=a");
  EXPECT_EQ(Norm("https://h:443"), "https://h/");
  EXPECT_EQ(Norm("https://h:8443/a/./b/../c"), "https://h:8443/a/c");
  EXPECT_EQ(Norm("http://h/v2/x/blobs/sha256:ab/../../../../secret"), "http://h/secret");
  EXPECT_EQ(Norm("http://h/a/b/.."), "http://h/a/");
  EXPECT_EQ(Norm("http://h/#/v2/x/blobs/sha256:ab"), "http://h/");
  EXPECT_EQ(Norm("http://[::1]:5000/v2/"), "http://[::1]:5000/v2/");
  EXPECT_EQ(Norm("http://[::1]/x?a=b/../c"), "http://[::1]/x?a=b/../c");  // queries untouched
  auto u = ParseUrl("http://Host.Example:8080/p");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "host.example");
  EXPECT_EQ(u->authority(), "host.example:8080");
}

TEST(UrlTest, RefusesWhatCannotBeFetchedAsWritten) {
  for (const char* bad : {"ftp://h/x", "http://", "http:///x", "http://user:pw@h/x", "h/x",
                          "http://h /x", "http://h:99999/", "http://::1/x",
                          // found by fuzz_url: brackets that are not an IPv6 literal
                          "https://[[b.0/0", "http://[h]/x", "http://[::1/x", "http://h\\x/"}) {
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
  }
}

TEST(UrlTest, RemoveDotSegmentsFollowsRfc3986) {
  EXPECT_EQ(RemoveDotSegments("/a/b/c/./../../g"), "/a/g");
  EXPECT_EQ(RemoveDotSegments("/mid/content=5/../6"), "/mid/6");
  EXPECT_EQ(RemoveDotSegments("/../../x"), "/x");
  EXPECT_EQ(RemoveDotSegments("/."), "/");
}

}  // namespace
}  // namespace df
