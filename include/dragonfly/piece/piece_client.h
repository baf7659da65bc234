// Client side of the piece protocol: one persistent, pipelined connection to a parent.
// Not thread-safe: owned and used by one thread. Requests may be sent back to back; responses
// must be read in the same order (the caller tracks what it asked for).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/storage/task_store.h"

namespace df::piece {

struct PieceHeader {
  uint32_t number = 0;
  uint32_t length = 0;
  uint32_t crc = 0;  // CRC32C of the body, as stored by the parent
};

class PieceConnection {
 public:
  virtual ~PieceConnection() = default;

  virtual Status RequestPiece(const std::string& task_id, uint32_t number) = 0;
  virtual Status RequestMap(const std::string& task_id, uint64_t known_version,
                            uint32_t wait_ms) = 0;

  // Reads the header of the next response, which must answer a RequestPiece. An error code
  // from the server comes back as a non-ok Status (NotFound for 1 and 2, ResourceExhausted
  // for 3, ...) and the body is already consumed. On ok, call ReadBody next.
  virtual StatusOr<PieceHeader> ReadPieceHeader() = 0;
  // Reads exactly `len` body bytes into `buf`.
  virtual Status ReadBody(char* buf, uint32_t len) = 0;
  // Reads the next response, which must answer a RequestMap.
  virtual StatusOr<storage::PieceMap> ReadMap() = 0;
};

// Connects to a parent's piece server at the first of its addresses that answers (`ips` in
// preference order, Happy Eyeballs). `io_timeout_ms` bounds every send and receive.
StatusOr<std::unique_ptr<PieceConnection>> ConnectPiece(const std::vector<std::string>& ips,
                                                        uint16_t port, int connect_timeout_ms,
                                                        int io_timeout_ms);

}  // namespace df::piece
