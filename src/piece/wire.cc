#include "piece/wire.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "dragonfly/common/net.h"
#include "dragonfly/piece/piece_protocol.h"

namespace df::piece::wire {
namespace {

uint64_t LoadLe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  }
  return v;
}

Status StartRequest(Writer& w, uint8_t type, const std::string& task_id) {
  if (task_id.empty() || task_id.size() > kMaxTaskIdLen) {
    return InvalidArgument("task id must be 1.." + std::to_string(kMaxTaskIdLen) + " bytes");
  }
  w.U8(type);
  w.U8(static_cast<uint8_t>(task_id.size()));
  w.Bytes(task_id.data(), task_id.size());
  return Status::Ok();
}

}  // namespace

uint16_t LoadU16(const char* p) { return static_cast<uint16_t>(LoadLe(p, 2)); }
uint32_t LoadU32(const char* p) { return static_cast<uint32_t>(LoadLe(p, 4)); }
uint64_t LoadU64(const char* p) { return LoadLe(p, 8); }

StatusOr<std::string> EncodePieceRequest(const std::string& task_id, uint32_t number) {
  Writer w;
  DF_RETURN_IF_ERROR(StartRequest(w, kGetPiece, task_id));
  w.U32(number);
  return std::move(w.data());
}

StatusOr<std::string> EncodeMapRequest(const std::string& task_id, uint64_t known_version,
                                       uint32_t wait_ms) {
  Writer w;
  DF_RETURN_IF_ERROR(StartRequest(w, kGetMap, task_id));
  w.U64(known_version);
  w.U32(wait_ms);
  return std::move(w.data());
}

std::string EncodeError(uint8_t type, uint8_t code, const std::string& message) {
  Writer w;
  size_t len = std::min<size_t>(message.size(), UINT16_MAX);
  w.U8(type);
  w.U8(code);
  w.U16(static_cast<uint16_t>(len));
  w.Bytes(message.data(), len);
  return std::move(w.data());
}

std::string EncodePieceHeader(uint32_t number, uint32_t length, uint32_t crc) {
  Writer w;
  w.U8(kGetPiece);
  w.U8(kOk);
  w.U32(number);
  w.U32(length);
  w.U32(crc);
  return std::move(w.data());
}

std::string EncodeMap(const storage::PieceMap& map) {
  Writer w;
  w.U8(kGetMap);
  w.U8(kOk);
  w.U64(map.version);
  w.I64(map.content_length);
  w.U32(map.piece_length);
  w.U32(map.total_pieces);
  w.U8(map.done ? 1 : 0);
  w.U32(static_cast<uint32_t>(map.bitmap.size()));
  w.Bytes(map.bitmap.data(), map.bitmap.size());
  return std::move(w.data());
}

uint32_t DecodeMapFixed(const char* p, storage::PieceMap* map) {
  map->version = LoadU64(p);
  map->content_length = static_cast<int64_t>(LoadU64(p + 8));
  map->piece_length = LoadU32(p + 16);
  map->total_pieces = LoadU32(p + 20);
  map->done = p[24] != 0;
  return LoadU32(p + 25);
}

Status ErrorCodeToStatus(uint8_t code, const std::string& message) {
  switch (code) {
    case kTaskNotFound:
    case kPieceNotAvailable:
      return NotFound(message);
    case kBusy:
      return ResourceExhausted(message);
    case kBadRequest:
      return InvalidArgument(message);
    case kInternalError:
      return Internal(message);
    default:
      return Internal("unknown piece protocol error code " + std::to_string(code) + ": " + message);
  }
}

Status SendAll(int fd, const void* data, size_t n, bool more) {
  return net::WriteAll(fd, data, n, more);
}

}  // namespace df::piece::wire
