#include "dragonfly/common/file.h"

#include <gtest/gtest.h>

namespace df {
namespace {

// A listed object's name becomes a path under the output directory only if it stays there.
TEST(FileTest, SafeRelativePathKeepsNamesUnderTheDirectory) {
  for (const char* ok : {"a", "a/b.bin", "d0/sub1/file-3.json", "weird name (1).bin", "a..b/c"}) {
    EXPECT_TRUE(SafeRelativePath(ok)) << ok;
  }
  for (const char* bad :
       {"", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\\\\..\\\\b"}) {
    EXPECT_FALSE(SafeRelativePath(bad)) << bad;
  }
  EXPECT_FALSE(SafeRelativePath(std::string("a\0b", 3)));
  EXPECT_FALSE(SafeRelativePath(std::string(256, 'x')));
}

}  // namespace
}  // namespace df
