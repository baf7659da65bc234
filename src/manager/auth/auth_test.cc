#include "dragonfly/manager/auth.h"

#include <gtest/gtest.h>

namespace df::manager::auth {
namespace {

TEST(AuthTest, PasswordHashIsSaltedArgon2id) {
  auto a = HashPassword("correct horse");
  auto b = HashPassword("correct horse");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->rfind("$argon2id$", 0), 0u);
  EXPECT_NE(*a, *b);  // salted
  EXPECT_TRUE(VerifyPassword("correct horse", *a));
  EXPECT_FALSE(VerifyPassword("correct horsf", *a));
  EXPECT_FALSE(VerifyPassword("correct horse", "plain"));
}

TEST(AuthTest, JwtRoundTripAndRejections) {
  Claims c{7, "root", "root", 1000, 2000};
  std::string t = SignJwt(c, "key-1");
  auto ok = VerifyJwt(t, "key-1", 1500);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->user_id, 7);
  EXPECT_EQ(ok->role, "root");
  EXPECT_EQ(VerifyJwt(t, "key-2", 1500).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyJwt(t, "key-1", 2000).status().message(), "token expired");
  // Tampered payload (role changed) fails the signature.
  std::string forged = t;
  size_t a = forged.find('.');
  forged.replace(a + 1, forged.find('.', a + 1) - a - 1,
                 Base64UrlEncode(R"({"id":7,"name":"root","role":"root","iat":1,"exp":9999})"));
  EXPECT_FALSE(VerifyJwt(forged, "key-1", 1500).ok());
  // The same signature bytes spelt differently (the last character's unused low bits flipped)
  // are refused too: only the token as issued is valid.
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string respelt = t;
  respelt.back() = kAlphabet[kAlphabet.find(respelt.back()) ^ 1];
  EXPECT_EQ(Base64UrlDecode(respelt.substr(respelt.rfind('.') + 1)).value(),
            Base64UrlDecode(t.substr(t.rfind('.') + 1)).value());
  EXPECT_FALSE(VerifyJwt(respelt, "key-1", 1500).ok());
  // alg=none is refused.
  std::string none = Base64UrlEncode(R"({"alg":"none"})") + "." +
                     Base64UrlEncode(R"({"id":1,"name":"x","role":"root","iat":1,"exp":9999})") +
                     ".";
  EXPECT_FALSE(VerifyJwt(none, "key-1", 1500).ok());
  EXPECT_FALSE(VerifyJwt("garbage", "key-1", 1500).ok());
}

TEST(AuthTest, Base64) {
  EXPECT_EQ(Base64Encode("alice:secret"), "YWxpY2U6c2VjcmV0");
  EXPECT_EQ(*Base64Decode("YWxpY2U6c2VjcmV0"), "alice:secret");
  EXPECT_EQ(Base64Encode("ab"), "YWI=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64Decode("a*b").ok());
  EXPECT_EQ(RandomToken(32).size(), 43u);
  EXPECT_NE(RandomToken(32), RandomToken(32));
}

}  // namespace
}  // namespace df::manager::auth
