#include "manager/registry/challenge.h"

#include <gtest/gtest.h>

namespace df::manager::registry {
namespace {

TEST(ParseWwwAuthenticateTest, DockerHubBearer) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/alpine:pull")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c[0].Param("service"), "registry.docker.io");
  EXPECT_EQ(c[0].Param("scope"), "repository:library/alpine:pull");
  EXPECT_EQ(c[0].Param("error"), "");
}

TEST(ParseWwwAuthenticateTest, CaseSpacesAndUnquotedValues) {
  auto c = ParseWwwAuthenticate("  BEARER  Realm = \"https://h/t\" ,  SERVICE=reg ,error=x");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].Param("realm"), "https://h/t");
  EXPECT_EQ(c[0].Param("service"), "reg");
  EXPECT_EQ(c[0].Param("error"), "x");
}

TEST(ParseWwwAuthenticateTest, QuotedCommasAndEscapes) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://h/t?a=1,b=2",scope="repository:a:pull,push",x="say \"hi\"\\")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].Param("realm"), "https://h/t?a=1,b=2");
  EXPECT_EQ(c[0].Param("scope"), "repository:a:pull,push");
  EXPECT_EQ(c[0].Param("x"), "say \"hi\"\\");
}

TEST(ParseWwwAuthenticateTest, SeveralChallenges) {
  auto c = ParseWwwAuthenticate(
      R"(Basic realm="Harbor", Bearer realm="https://h/service/token",service="harbor-registry")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].Param("realm"), "Harbor");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].Param("realm"), "https://h/service/token");
  EXPECT_EQ(c[1].Param("service"), "harbor-registry");
}

TEST(ParseWwwAuthenticateTest, BareSchemesAndToken68) {
  auto c = ParseWwwAuthenticate("Negotiate, Basic, Custom abc+/9==, Bearer realm=\"r\"");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].scheme, "negotiate");
  EXPECT_TRUE(c[0].params.empty());
  EXPECT_EQ(c[1].scheme, "basic");
  EXPECT_EQ(c[2].scheme, "custom");
  EXPECT_EQ(c[2].token68, "abc+/9==");
  EXPECT_EQ(c[3].Param("realm"), "r");
}

TEST(ParseWwwAuthenticateTest, MalformedNeverLoops) {
  EXPECT_TRUE(ParseWwwAuthenticate("").empty());
  EXPECT_TRUE(ParseWwwAuthenticate(" , ,").empty());
  auto c = ParseWwwAuthenticate("Bearer realm=\"unterminated");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].Param("realm"), "unterminated");
  auto d = ParseWwwAuthenticate("\"junk\" , Bearer realm=\"r\" ]]] , Basic");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].Param("realm"), "r");
  EXPECT_EQ(d[1].scheme, "basic");
}

TEST(TokenRequestUrlTest, EncodesAndAppends) {
  EXPECT_EQ(TokenRequestUrl("https://auth/token", "registry.docker.io",
                            {"repository:library/alpine:pull", "registry:catalog:*"}),
            "https://auth/token?service=registry.docker.io"
            "&scope=repository%3Alibrary%2Falpine%3Apull&scope=registry%3Acatalog%3A%2A");
  EXPECT_EQ(TokenRequestUrl("https://auth/token?a=b", "", {"x y"}),
            "https://auth/token?a=b&scope=x%20y");
  EXPECT_EQ(TokenRequestUrl("https://auth/token", "", {}), "https://auth/token");
}

TEST(ParseTokenResponseTest, TokenOrAccessToken) {
  auto a = ParseTokenResponse(R"({"token":"abc","expires_in":300})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->token, "abc");
  EXPECT_EQ(a->expires_in_s, 300);
  auto b = ParseTokenResponse(R"({"access_token":"xyz"})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->token, "xyz");
  EXPECT_EQ(b->expires_in_s, 0);
  auto c = ParseTokenResponse(R"({"token":"","access_token":"def"})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->token, "def");
}

TEST(ParseTokenResponseTest, Rejects) {
  for (const char* bad : {"", "[]", "{}", R"({"token":5})", R"({"token":"a\nb"})", "{"}) {
    EXPECT_EQ(ParseTokenResponse(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(BasicAuthorizationTest, Base64) {
  EXPECT_EQ(BasicAuthorization("alice", "secret"), "Basic YWxpY2U6c2VjcmV0");
  EXPECT_EQ(BasicAuthorization("a", ""), "Basic YTo=");
  EXPECT_EQ(BasicAuthorization("ab", "c"), "Basic YWI6Yw==");
  EXPECT_EQ(BasicAuthorization("robot$p+x", "p:w"), "Basic cm9ib3QkcCt4OnA6dw==");
}

}  // namespace
}  // namespace df::manager::registry
