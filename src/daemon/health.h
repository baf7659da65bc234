// The daemon's readiness (its gRPC health service): it can store what it downloads, and its
// schedulers (when it has any) take its announcements.
#pragma once

#include <chrono>
#include <string>

#include "dragonfly/common/status.h"

namespace df::daemon {

// Unavailable, naming the directory and the error, when a file cannot be created and written in
// `dir` (read-only, full, gone).
Status StorageWritable(const std::string& dir);

// Unavailable when the daemon has schedulers (`enabled`) and none has taken its announcement
// since `last_ok` for longer than `grace`: it cannot join swarms, so every download would go to
// the origin. OK without schedulers (not needed).
Status SchedulerReachable(bool enabled, std::chrono::steady_clock::time_point last_ok,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::milliseconds grace);

}  // namespace df::daemon
