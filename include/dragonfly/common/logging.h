// Structured logging on spdlog: one line per event, "time level component message k=v ...".
#pragma once

#include <string>

#include "dragonfly/common/status.h"

namespace df {

// level: trace, debug, info, warn, error. `file` empty = stderr.
Status InitLogging(const std::string& component, const std::string& level,
                   const std::string& file = "");

}  // namespace df
