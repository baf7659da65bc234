// The piece-exchange protocol between two peers of one task (ours; see docs/architecture.md,
// "The mesh"). One TCP connection per pair of neighbours and task, usable by both sides: each
// side announces what it holds and requests pieces the other has. Requests are pulled, never
// pushed, so a cycle of neighbours cannot deadlock.
//
// Every message is a frame: u32 length (of what follows), u8 type, payload; integers are
// little-endian.
//   HELLO     u8 version (4), u8 id_len, task_id, u8 id_len, peer_id, u8 flags (1 = seed peer),
//             u16 token_len, token, u8 tp_len, traceparent (W3C, of the sender's download when
//             it is traced; at most 64). The connecting side sends it first, with the piece token
//             the scheduler gave it for this task and peer ID (security/piece_token.h); the
//             accepting side checks the token, then answers with its own HELLO (no token) or
//             ERROR (kUnauthorized, kTaskNotFound, kBusy) and closes. Then both send BITFIELD.
//   BITFIELD  i64 content_length (-1 unknown), u32 piece_length (0 unknown), u32 total_pieces,
//             u8 done, u32 bitmap_len, bitmap (bit n = byte n/8, bit n%8, LSB first).
//   HAVE      u32 piece: the sender has verified and stored the piece (sent to every neighbour
//             as each piece lands).
//   GEOMETRY  i64 content_length, u32 piece_length, u32 total_pieces: the sender learnt its
//             task's geometry after its BITFIELD.
//   REQUEST   u32 piece.
//   CANCEL    u32 piece: the requester no longer wants it (got it elsewhere).
//   PIECE     u32 piece, u32 crc32c, then the piece's bytes (the rest of the frame).
//   REJECT    u32 piece, u8 code, u32 suggestion (kNoPiece: none): the request will not be
//             served. kElsewhere: the sender is a seed peer injecting pieces and another
//             neighbour has or gets this one; `suggestion` is a piece nobody has yet.
//   ERROR     u8 code, u16 len, message; the sender closes the connection.
#pragma once

#include <cstdint>

namespace df::piece {

inline constexpr uint8_t kProtocolVersion = 4;

enum class FrameType : uint8_t {
  kHello = 1,
  kBitfield = 2,
  kHave = 3,
  kGeometry = 4,
  kRequest = 5,
  kCancel = 6,
  kPiece = 7,
  kReject = 8,
  kError = 9,
};

enum class RejectCode : uint8_t {
  kNotAvailable = 1,  // the sender does not have the piece
  kElsewhere = 2,     // a seed peer: get it from a neighbour (see `suggestion`)
  kBusy = 3,          // the sender's upload queue is full: ask another neighbour
};

enum class ErrorCode : uint8_t {
  kTaskNotFound = 1,
  kBusy = 2,        // over the connection limit
  kBadRequest = 3,  // malformed frame or protocol violation
  kInternal = 4,
  kUnauthorized = 5,  // no valid piece token for the task
};

inline constexpr uint32_t kNoPiece = 0xffffffffu;
inline constexpr uint8_t kHelloSeed = 1;

}  // namespace df::piece
