// The dfdaemon composition root: storage, piece server, local and upload gRPC services, the
// scheduler announcer and GC, wired from a DaemonConfig.
#pragma once

#include <memory>

#include "dragonfly/common/status.h"
#include "dragonfly/daemon/config.h"

namespace df::daemon {

class Daemon {
 public:
  virtual ~Daemon() = default;
  // Blocks until Shutdown() is called (from any thread, e.g. a signal-waiting thread).
  virtual void Wait() = 0;
  // Asks the daemon to stop; destroying the Daemon then drains and stops every part.
  virtual void Shutdown() = 0;
};

// Starts every part of the daemon; fails with a clear message if a port or the socket cannot
// be bound or the storage directory is unusable.
StatusOr<std::unique_ptr<Daemon>> StartDaemon(const DaemonConfig& config);

}  // namespace df::daemon
