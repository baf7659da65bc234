// The piece protocol between peers: a persistent TCP connection carrying pipelined requests.
// A client may send many requests before reading responses; the server answers strictly in
// request order. Piece bodies are sent with sendfile(2) straight from the task's data file.
//
// Wire format (little-endian integers):
//   request  := u8 type, u8 task_id_len, task_id bytes, body
//     type 1 GET_PIECE: body = u32 piece_number
//     type 2 GET_MAP:   body = u64 known_version, u32 wait_ms   (long poll: the server answers
//                       when the task's map version > known_version, the task is done, or
//                       wait_ms passes)
//   response := u8 type (echo), u8 code, body
//     code != 0 (error): body = u16 len, message bytes   (the connection stays usable)
//     GET_PIECE ok: u32 number, u32 length, u32 crc32c, then `length` bytes of piece data
//     GET_MAP ok:   u64 version, i64 content_length (-1 unknown), u32 piece_length,
//                   u32 total_pieces (0 unknown), u8 done, u32 bitmap_len, bitmap bytes
//   codes: 0 ok, 1 task not found, 2 piece not available, 3 busy (over the connection limit;
//          the server closes after answering), 4 bad request (server closes), 5 internal error
#pragma once

#include <cstdint>

namespace df::piece {

inline constexpr uint8_t kGetPiece = 1;
inline constexpr uint8_t kGetMap = 2;

inline constexpr uint8_t kOk = 0;
inline constexpr uint8_t kTaskNotFound = 1;
inline constexpr uint8_t kPieceNotAvailable = 2;
inline constexpr uint8_t kBusy = 3;
inline constexpr uint8_t kBadRequest = 4;
inline constexpr uint8_t kInternalError = 5;

}  // namespace df::piece
