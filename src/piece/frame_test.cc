#include "piece/frame.h"

#include <gtest/gtest.h>

namespace df::piece::frame {
namespace {

std::string_view Payload(const std::string& f, FrameType want) {
  FrameType type{};
  uint32_t len = 0;
  EXPECT_TRUE(DecodeHeader(f.data(), &type, &len).ok());
  EXPECT_EQ(type, want);
  EXPECT_EQ(len, f.size() - kHeaderSize);
  return std::string_view(f).substr(kHeaderSize);
}

TEST(FrameTest, RoundTrips) {
  auto h =
      DecodeHello(Payload(EncodeHello({"task-1", "peer-1", true, std::string("token\0bytes", 11),
                                       "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
                          FrameType::kHello));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->trace_parent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(h->task_id, "task-1");
  EXPECT_EQ(h->peer_id, "peer-1");
  EXPECT_TRUE(h->seed);
  EXPECT_EQ(h->token, std::string("token\0bytes", 11));

  Bitfield b{{(5 << 20) + 3, 4 << 20, 2}, false, {0x01}};
  auto b2 = DecodeBitfield(Payload(EncodeBitfield(b), FrameType::kBitfield));
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ(b2->geometry.content_length, (5 << 20) + 3);
  EXPECT_EQ(b2->geometry.piece_length, 4u << 20);
  EXPECT_EQ(b2->geometry.total_pieces, 2u);
  EXPECT_EQ(b2->bitmap, std::vector<uint8_t>{0x01});

  auto g = DecodeGeometry(Payload(EncodeGeometry({-1, 1 << 22, 0}), FrameType::kGeometry));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->content_length, -1);

  for (FrameType t : {FrameType::kHave, FrameType::kRequest, FrameType::kCancel}) {
    auto n = DecodePieceNumber(Payload(EncodePieceNumber(t, 77), t));
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 77u);
  }
  auto r = DecodeReject(Payload(EncodeReject({9, RejectCode::kElsewhere, 3}), FrameType::kReject));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, RejectCode::kElsewhere);
  EXPECT_EQ(r->suggestion, 3u);
  auto e = DecodeError(Payload(EncodeError({ErrorCode::kBusy, "full"}), FrameType::kError));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->message, "full");

  std::string head = EncodePieceHeader(4, 0xdeadbeef, 1000);
  FrameType type{};
  uint32_t len = 0;
  ASSERT_TRUE(DecodeHeader(head.data(), &type, &len).ok());
  EXPECT_EQ(type, FrameType::kPiece);
  EXPECT_EQ(len, 8u + 1000u);
  EXPECT_EQ(LoadU32(head.data() + kHeaderSize), 4u);
  EXPECT_EQ(LoadU32(head.data() + kHeaderSize + 4), 0xdeadbeefu);
}

TEST(FrameTest, RefusesWhatDoesNotFit) {
  FrameType type{};
  uint32_t len = 0;
  std::string f = EncodePieceNumber(FrameType::kHave, 1);
  f[4] = 42;  // unknown type
  EXPECT_FALSE(DecodeHeader(f.data(), &type, &len).ok());
  f = EncodePieceNumber(FrameType::kHave, 1);
  f[0] = '\xff';
  f[1] = '\xff';  // 64 KiB HAVE
  EXPECT_FALSE(DecodeHeader(f.data(), &type, &len).ok());
  f = EncodePieceHeader(1, 0, kMaxPieceBytes + 1);
  EXPECT_FALSE(DecodeHeader(f.data(), &type, &len).ok());
  std::string zero(kHeaderSize, '\0');
  zero[4] = static_cast<char>(FrameType::kHave);
  EXPECT_FALSE(DecodeHeader(zero.data(), &type, &len).ok());

  EXPECT_FALSE(DecodePieceNumber("abc").ok());
  EXPECT_FALSE(DecodeReject(std::string(9, '\0')).ok()) << "code 0";
  std::string hello = EncodeHello({"t", "p", false}).substr(kHeaderSize);
  hello[0] = 1;  // version 1
  EXPECT_FALSE(DecodeHello(hello).ok());
  std::string bf = EncodeBitfield({{10, 4, 3}, false, {0x07}}).substr(kHeaderSize);
  EXPECT_FALSE(DecodeBitfield(bf + "x").ok()) << "bitmap length disagrees with the frame";
  EXPECT_FALSE(DecodeHello(std::string(1, '\x04') + std::string(1, '\0')).ok()) << "empty id";
  std::string tokened = EncodeHello({"t", "p", false, "tok"}).substr(kHeaderSize);
  ASSERT_TRUE(DecodeHello(tokened).ok());
  EXPECT_FALSE(DecodeHello(tokened.substr(0, tokened.size() - 2)).ok()) << "token cut short";
  EXPECT_FALSE(DecodeHello(tokened.substr(0, tokened.size() - 1)).ok()) << "no traceparent length";
  EXPECT_FALSE(DecodeHello(tokened + "x").ok()) << "bytes after the traceparent";
  std::string long_token = tokened;
  long_token[tokened.size() - 6] = '\xff';  // token_len 0x04ff > kMaxTokenLen
  long_token[tokened.size() - 5] = '\x04';
  EXPECT_FALSE(DecodeHello(long_token).ok()) << "token longer than the bound";
  std::string long_tp = tokened;
  long_tp.back() = static_cast<char>(kMaxTraceParentLen + 1);
  long_tp += std::string(kMaxTraceParentLen + 1, 'a');
  EXPECT_FALSE(DecodeHello(long_tp).ok()) << "traceparent longer than the bound";
}

}  // namespace
}  // namespace df::piece::frame
