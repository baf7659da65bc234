#include "dragonfly/common/piece.h"

#include <algorithm>
#include <bit>

namespace df {

uint32_t ComputePieceLength(int64_t content_length) {
  if (content_length < 0) {
    return kMinPieceLength;
  }
  uint64_t want = std::bit_ceil(static_cast<uint64_t>(content_length) / 500);
  return static_cast<uint32_t>(std::clamp<uint64_t>(want, kMinPieceLength, kMaxPieceLength));
}

uint32_t PieceCount(int64_t content_length, uint32_t piece_length) {
  if (content_length <= 0 || piece_length == 0) {
    return 0;
  }
  auto len = static_cast<uint64_t>(content_length);
  return static_cast<uint32_t>((len + piece_length - 1) / piece_length);
}

uint32_t PieceSize(int64_t content_length, uint32_t piece_length, uint32_t n) {
  if (content_length <= 0 || piece_length == 0) {
    return 0;
  }
  uint64_t begin = PieceOffset(piece_length, n);
  auto len = static_cast<uint64_t>(content_length);
  if (begin >= len) {
    return 0;
  }
  return static_cast<uint32_t>(std::min<uint64_t>(piece_length, len - begin));
}

}  // namespace df
