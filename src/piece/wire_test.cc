#include "piece/wire.h"

#include <gtest/gtest.h>

#include "dragonfly/piece/piece_protocol.h"

namespace df::piece::wire {
namespace {

TEST(WireTest, PieceRequestLayout) {
  auto r = EncodePieceRequest("abc", 0x01020304);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::string("\x01\x03"
                            "abc\x04\x03\x02\x01",
                            9));
}

TEST(WireTest, MapRequestLayout) {
  auto r = EncodeMapRequest("t", 0x0102030405060708ull, 500);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::string("\x02\x01t\x08\x07\x06\x05\x04\x03\x02\x01\xf4\x01\0\0", 15));
}

TEST(WireTest, PieceHeaderAndErrorLayout) {
  EXPECT_EQ(EncodePieceHeader(1, 2, 0xaabbccdd),
            std::string("\x01\x00\x01\0\0\0\x02\0\0\0\xdd\xcc\xbb\xaa", 14));
  EXPECT_EQ(EncodeError(kGetMap, kTaskNotFound, "no"), std::string("\x02\x01\x02\0no", 6));
}

TEST(WireTest, MapRoundTrip) {
  storage::PieceMap m;
  m.version = 77;
  m.content_length = -1;
  m.piece_length = 4u << 20;
  m.total_pieces = 0;
  m.done = true;
  m.bitmap = {0x05, 0x80};
  std::string out = EncodeMap(m);
  ASSERT_EQ(out.size(), kResponseStartSize + kMapFixedSize + 2);
  EXPECT_EQ(out[0], kGetMap);
  EXPECT_EQ(out[1], kOk);
  storage::PieceMap got;
  EXPECT_EQ(DecodeMapFixed(out.data() + 2, &got), 2u);
  EXPECT_EQ(got.version, 77u);
  EXPECT_EQ(got.content_length, -1);
  EXPECT_EQ(got.piece_length, 4u << 20);
  EXPECT_EQ(got.total_pieces, 0u);
  EXPECT_TRUE(got.done);
}

TEST(WireTest, ErrorCodes) {
  EXPECT_EQ(ErrorCodeToStatus(kTaskNotFound, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrorCodeToStatus(kPieceNotAvailable, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrorCodeToStatus(kBusy, "x").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrorCodeToStatus(kBadRequest, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeToStatus(kInternalError, "x").code(), StatusCode::kInternal);
  EXPECT_EQ(ErrorCodeToStatus(kInternalError, "boom").message(), "boom");
  EXPECT_EQ(ErrorCodeToStatus(99, "x").code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace df::piece::wire
