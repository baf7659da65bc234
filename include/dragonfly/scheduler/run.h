// Process-level entry of the scheduler binary, so that cmd/scheduler/main.cc stays thin.
#pragma once

#include "dragonfly/common/status.h"
#include "dragonfly/scheduler/config.h"

namespace df::scheduler {

// Blocks SIGINT and SIGTERM in the calling thread; call first in main(), before any thread
// starts, so that RunScheduler() can sigwait() for them.
void BlockTerminationSignals();

// Serves gRPC on config.listen and /metrics + /healthy on config.metrics_listen, prints
// "scheduler listening on HOST:PORT" to stdout once serving, and returns after SIGINT/SIGTERM
// with everything stopped.
Status RunScheduler(const SchedulerConfig& config);

}  // namespace df::scheduler
