#include "dragonfly/common/digest.h"

#include <gtest/gtest.h>

#include <string>

namespace df {
namespace {

TEST(DigestTest, Crc32cKnownVector) {
  // RFC 3720 B.4: 32 bytes of zeros -> 0x8a9136aa; "123456789" -> 0xe3069283.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(0, zeros.data(), zeros.size()), 0x8a9136aau);
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xe3069283u);
  // Incremental equals one-shot.
  uint32_t c = Crc32c(0, "1234", 4);
  EXPECT_EQ(Crc32c(c, "56789", 5), 0xe3069283u);
}

TEST(DigestTest, VerifiersAcceptRightAndRejectWrong) {
  const std::string data = "hello world";
  auto ok = ParseDigest("sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  ASSERT_TRUE(ok.ok());
  (*ok)->Update(data.data(), data.size());
  EXPECT_TRUE((*ok)->Verify().ok());

  auto bad = ParseDigest("sha256:" + std::string(64, '0'));
  ASSERT_TRUE(bad.ok());
  (*bad)->Update(data.data(), data.size());
  Status s = (*bad)->Verify();
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("digest mismatch"), std::string::npos);

  auto crc = ParseDigest("crc32:222957957");
  ASSERT_TRUE(crc.ok());
  (*crc)->Update(data.data(), data.size());
  EXPECT_TRUE((*crc)->Verify().ok());
}

TEST(DigestTest, MalformedSpecsRejected) {
  EXPECT_FALSE(ParseDigest("md5:abc").ok());
  EXPECT_FALSE(ParseDigest("sha256:xyz").ok());
  EXPECT_FALSE(ParseDigest("sha256").ok());
  EXPECT_FALSE(ParseDigest("crc32:99999999999").ok());
}

}  // namespace
}  // namespace df
