// Encoding and decoding of piece-protocol frames (dragonfly/piece/piece_protocol.h). Internal to
// df_piece. Decoders validate every length against the frame and the protocol's bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/piece/piece_protocol.h"

namespace df::piece::frame {

inline constexpr size_t kHeaderSize = 5;                     // u32 length, u8 type
inline constexpr size_t kPieceHeaderSize = kHeaderSize + 8;  // + u32 piece, u32 crc
inline constexpr size_t kMaxIdLen = 255;
inline constexpr size_t kMaxTokenLen = 1024;      // a piece token (security/piece_token.h)
inline constexpr size_t kMaxTraceParentLen = 64;  // a W3C traceparent (55 characters)
// Bounds on what a peer may send: a piece (64 MiB at most, see common/piece.h) and a bitmap of
// 2^27 pieces; every other frame is small.
inline constexpr uint32_t kMaxPieceBytes = 64u << 20;
inline constexpr uint32_t kMaxBitmapBytes = 16u << 20;
inline constexpr uint32_t kMaxSmallFrame = 4096;

struct Hello {
  std::string task_id;
  std::string peer_id;
  bool seed = false;
  std::string token;  // the connecting side's piece token; empty in the answer
  // The sender's download's W3C traceparent when it is traced (else empty): the pieces served
  // to it are summarised as a span of that trace.
  std::string trace_parent;
};

struct Geometry {
  int64_t content_length = -1;  // -1 unknown
  uint32_t piece_length = 0;    // 0 unknown
  uint32_t total_pieces = 0;    // 0 unknown
};

struct Bitfield {
  Geometry geometry;
  bool done = false;
  std::vector<uint8_t> bitmap;
};

struct Reject {
  uint32_t piece = 0;
  RejectCode code = RejectCode::kNotAvailable;
  uint32_t suggestion = kNoPiece;
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// Whole frames (header included).
std::string EncodeHello(const Hello& h);
std::string EncodeBitfield(const Bitfield& b);
std::string EncodeGeometry(const Geometry& g);
std::string EncodePieceNumber(FrameType type, uint32_t piece);  // HAVE, REQUEST, CANCEL
std::string EncodeReject(const Reject& r);
std::string EncodeError(const Error& e);
// The header of a PIECE frame whose `length` body bytes follow.
std::string EncodePieceHeader(uint32_t piece, uint32_t crc, uint32_t length);

// The largest payload (after the header) a frame of `type` may have; 0 for an unknown type.
uint32_t MaxPayload(FrameType type);
// Parses a 5-byte header; InvalidArgument for an unknown type or a length out of bounds.
Status DecodeHeader(const char* p, FrameType* type, uint32_t* payload_len);

// Payload decoders (the bytes after the header).
StatusOr<Hello> DecodeHello(std::string_view payload);
StatusOr<Bitfield> DecodeBitfield(std::string_view payload);
StatusOr<Geometry> DecodeGeometry(std::string_view payload);
StatusOr<uint32_t> DecodePieceNumber(std::string_view payload);
StatusOr<Reject> DecodeReject(std::string_view payload);
StatusOr<Error> DecodeError(std::string_view payload);

uint32_t LoadU32(const char* p);
uint64_t LoadU64(const char* p);

}  // namespace df::piece::frame
