// The manager's composition root: database (migrated at start), REST API, gRPC service, job
// workers and the keepalive reaper. Owns them all; Stop() ends them in reverse order.
#pragma once

#include <memory>

#include "dragonfly/manager/config.h"

namespace df::manager {

class Manager {
 public:
  virtual ~Manager() = default;
  virtual uint16_t rest_port() const = 0;
  virtual uint16_t grpc_port() const = 0;
  virtual void Stop() = 0;
};

StatusOr<std::unique_ptr<Manager>> StartManager(const ManagerConfig& config);

}  // namespace df::manager
