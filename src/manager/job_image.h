// What a job runs on and what became of it (jobs.cc), and the image jobs' parts (job_image.cc):
// resolving an image's manifest, and get_image_distribution's result.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/dfdaemon.pb.h"
#include "dragonfly/common/status.h"
#include "dragonfly/manager/config.h"
#include "dragonfly/manager/registry.h"

namespace df::manager {

using nlohmann::json;

// One target of a job: a seed peer (or peer) and its cluster.
struct Target {
  std::string hostname;
  std::string ip;
  int port = 0;
  int64_t cluster_id = 0;
  std::string host_type = "super";
};

struct TaskOutcome {
  bool ok = false;
  std::string description;
};

// StatTask's answer for a host that does not hold the task (not an error).
constexpr char kAbsent[] = "absent";

// Resolves an image job's manifest (url, platform, username, password, headers) to its blobs.
StatusOr<registry::ResolveResult> ResolveImageOf(const json& a, const ManagerConfig::Job& job);

// get_image_distribution's result: the image's layers, and each host holding any of them with
// what it holds (`held[i]`: StatTask's answer for work[i], null when the host lacks it or could
// not be asked -- `outcomes[i]` says which).
json ImageDistribution(
    const json& a, const registry::ResolveResult& image,
    const std::vector<std::pair<dragonfly::api::dfdaemon::DownloadRequest, Target>>& work,
    const std::vector<json>& held, const std::vector<TaskOutcome>& outcomes);

}  // namespace df::manager
