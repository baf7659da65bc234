// Server side of one piece-protocol connection: reads pipelined requests and answers them in
// order. Used by the piece server's per-connection threads.
#pragma once

#include "dragonfly/piece/piece_server.h"
#include "piece/stop_signal.h"
#include "piece/token_bucket.h"

namespace df::piece {

struct ServeContext {
  const PieceServerOptions* options = nullptr;
  TokenBucket* bucket = nullptr;  // nullptr = unlimited
  StopSignal* stop = nullptr;
};

// Serves requests on the connected socket `fd` until the peer closes it, an I/O error, a
// malformed request, or ctx.stop. Does not close `fd`.
void ServeConnection(int fd, const ServeContext& ctx);

// Answers the first request on `fd` with kBusy (over the connection limit). Does not close `fd`.
void RejectBusy(int fd, int io_timeout_ms);

}  // namespace df::piece
