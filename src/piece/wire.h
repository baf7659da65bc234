// Encoding helpers for the piece protocol (see dragonfly/piece/piece_protocol.h). Internal to
// df_piece: little-endian integer packing, message builders and a send with MSG_MORE.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dragonfly/common/status.h"
#include "dragonfly/storage/task_store.h"

namespace df::piece::wire {

// Sizes of the fixed parts that follow the 2-byte response start (type, code).
inline constexpr size_t kResponseStartSize = 2;
inline constexpr size_t kPieceHeaderSize = 12;  // u32 number, u32 length, u32 crc
inline constexpr size_t kMapFixedSize = 29;     // u64, i64, u32, u32, u8, u32 bitmap_len
inline constexpr size_t kGetPieceBodySize = 4;  // u32 piece_number
inline constexpr size_t kGetMapBodySize = 12;   // u64 known_version, u32 wait_ms
inline constexpr size_t kMaxTaskIdLen = 255;
// Sanity bound for a received bitmap (2^27 pieces).
inline constexpr uint32_t kMaxBitmapLen = 16u << 20;
inline constexpr uint32_t kMaxMapWaitMs = 10000;

// Appends little-endian integers and raw bytes to a string.
class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void I64(int64_t v) { Le(static_cast<uint64_t>(v), 8); }
  void Bytes(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  std::string& data() { return out_; }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) {
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
  }
  std::string out_;
};

// Little-endian loads from a buffer the caller has already sized.
uint16_t LoadU16(const char* p);
uint32_t LoadU32(const char* p);
uint64_t LoadU64(const char* p);

// Requests. InvalidArgument when the task id is empty or longer than 255 bytes.
StatusOr<std::string> EncodePieceRequest(const std::string& task_id, uint32_t number);
StatusOr<std::string> EncodeMapRequest(const std::string& task_id, uint64_t known_version,
                                       uint32_t wait_ms);

// Responses.
std::string EncodeError(uint8_t type, uint8_t code, const std::string& message);
std::string EncodePieceHeader(uint32_t number, uint32_t length, uint32_t crc);
std::string EncodeMap(const storage::PieceMap& map);

// Parses the kMapFixedSize bytes after the response start; returns the bitmap length.
uint32_t DecodeMapFixed(const char* p, storage::PieceMap* map);

// The Status a client reports for an error code, with the server's message.
Status ErrorCodeToStatus(uint8_t code, const std::string& message);

// Sends all of [data, data+n); with `more` the kernel may hold the bytes back (MSG_MORE) to
// coalesce them with what follows.
Status SendAll(int fd, const void* data, size_t n, bool more);

}  // namespace df::piece::wire
