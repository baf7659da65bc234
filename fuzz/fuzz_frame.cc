// Piece-protocol frames from a neighbour: every decoder on any payload, and encode(decode(x))
// decoding to the same value; a HELLO's piece token checked as the piece server does.
#include <cstdint>
#include <string>
#include <string_view>

#include "dragonfly/security/piece_token.h"
#include "piece/frame.h"

namespace frame = df::piece::frame;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static df::security::TokenVerifier* verifier = [] {
    auto* v = new df::security::TokenVerifier();
    (void)v->Trust(df::security::TokenSigner::Generate()->public_key());
    return v;
  }();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)df::security::PeekToken(in);
  if (size >= frame::kHeaderSize) {
    df::piece::FrameType type{};
    uint32_t len = 0;
    (void)frame::DecodeHeader(in.data(), &type, &len);
  }
  if (auto h = frame::DecodeHello(in); h.ok()) {
    auto again =
        frame::DecodeHello(std::string_view(frame::EncodeHello(*h)).substr(frame::kHeaderSize));
    if (!again.ok() || again->task_id != h->task_id || again->peer_id != h->peer_id ||
        again->token != h->token) {
      __builtin_trap();
    }
    if (verifier->Verify(h->token, h->task_id, h->peer_id, 1'800'000'000).ok()) {
      __builtin_trap();  // nobody holds the key: no token can pass
    }
  }
  if (auto b = frame::DecodeBitfield(in); b.ok()) {
    auto again = frame::DecodeBitfield(
        std::string_view(frame::EncodeBitfield(*b)).substr(frame::kHeaderSize));
    if (!again.ok() || again->bitmap != b->bitmap) {
      __builtin_trap();
    }
  }
  (void)frame::DecodeGeometry(in);
  (void)frame::DecodePieceNumber(in);
  (void)frame::DecodeReject(in);
  (void)frame::DecodeError(in);
  return 0;
}
