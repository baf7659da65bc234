// Piece geometry. Pieces are numbered from 0; piece n covers [n*len, min((n+1)*len, total)).
#pragma once

#include <cstdint>
#include <optional>

namespace df {

inline constexpr uint32_t kMinPieceLength = 4u << 20;   // 4 MiB
inline constexpr uint32_t kMaxPieceLength = 64u << 20;  // 64 MiB
inline constexpr int64_t kUnknownLength = -1;
// Bound on a task's piece count, so no peer or file can make a task's maps grow without limit
// (64 TiB at 64 MiB pieces; ComputePieceLength keeps real tasks far below it).
inline constexpr uint32_t kMaxPieces = 1u << 20;

// next_power_of_two(content_length / 500) clamped to [4 MiB, 64 MiB]; 4 MiB when unknown.
uint32_t ComputePieceLength(int64_t content_length);

// ceil(content_length / piece_length); 0 for an empty or unknown length.
uint32_t PieceCount(int64_t content_length, uint32_t piece_length);

// Byte length of piece `n`; 0 when n is past the end.
uint32_t PieceSize(int64_t content_length, uint32_t piece_length, uint32_t n);

inline uint64_t PieceOffset(uint32_t piece_length, uint32_t n) {
  return static_cast<uint64_t>(piece_length) * n;
}

}  // namespace df
