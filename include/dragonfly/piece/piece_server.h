// Piece server: serves pieces of stored tasks (also of tasks still downloading) to other peers.
// One thread per connection (connections are few and long-lived: one per child and task);
// sends are zero-copy with sendfile(2). Limits: max concurrent connections and a shared upload
// rate limit (token bucket).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dragonfly/common/status.h"
#include "dragonfly/storage/task_store.h"

namespace df::piece {

struct PieceServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 0;                      // 0 = ephemeral
  int max_connections = 128;              // more get code kBusy and are closed
  uint64_t rate_limit_bytes_per_sec = 0;  // 0 = unlimited
  int io_timeout_ms = 30000;              // per send/recv
  // Returns the task for `task_id`, or nullptr if this host does not have it.
  std::function<std::shared_ptr<storage::Task>(const std::string& task_id)> lookup;
  // Called after each piece sent.
  std::function<void(const std::string& task_id, uint32_t bytes)> on_piece_sent;
  // Test hook: when it returns true the piece is sent with flipped bytes (but the stored,
  // correct CRC), as a lying parent would.
  std::function<bool(const std::string& task_id, uint32_t number)> corrupt_for_test;
};

class PieceServer {
 public:
  virtual ~PieceServer() = default;
  virtual uint16_t port() const = 0;
  virtual int active_connections() const = 0;
  // Closes the listener and every connection; joins all threads.
  virtual void Stop() = 0;
};

StatusOr<std::unique_ptr<PieceServer>> StartPieceServer(PieceServerOptions options);

}  // namespace df::piece
