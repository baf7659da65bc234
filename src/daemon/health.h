// The daemon's readiness (its gRPC health service): it can store what it downloads.
#pragma once

#include <string>

#include "dragonfly/common/status.h"

namespace df::daemon {

// Unavailable, naming the directory and the error, when a file cannot be created and written in
// `dir` (read-only, full, gone).
Status StorageWritable(const std::string& dir);

}  // namespace df::daemon
