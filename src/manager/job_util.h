// What the job code shares (jobs.cc runs jobs, job_args.cc checks their args).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::manager {

using nlohmann::json;

// A string field of a job's args, "" when absent or not a string.
std::string Str(const json& j, const char* key);
// "a&b" -> {"a", "b"} (filtered query params as Dragonfly's API gives them).
std::vector<std::string> SplitParams(const std::string& s);
bool ValidHttpUrl(const std::string& u);
// InvalidArgument(message) unless ok.
Status Field(bool ok, const std::string& message);

}  // namespace df::manager
