// The typed model of a cluster (a scheduler cluster and its seed peer cluster): its scopes (which
// daemons it serves), its scheduling config (pushed to its schedulers) and its task blocklist.
// FromJson validates what the REST API receives and names the bad field; ToJson gives the
// REST API's (and the database column's) JSON back, Dragonfly's field names.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/blocklist.h"
#include "dragonfly/common/status.h"

namespace df::manager {

using nlohmann::json;

struct ClusterScopes {
  std::string idc;                     // "idc-a|idc-b": any of them
  std::string location;                // "country|province|city": longest common prefix wins
  std::vector<std::string> cidrs;      // "10.1.0.0/16", "fd00::/8"
  std::vector<std::string> hostnames;  // regexes matched against the whole host name
  json ToJson() const;
  static StatusOr<ClusterScopes> FromJson(const json& j);
  bool operator==(const ClusterScopes&) const = default;
};

// Dragonfly's blocklist, task rules only: {"client": {"task": {applications, urls, tags}},
// "seed_client": {"task": {...}}}.
struct ClusterBlocklist {
  BlockRules client;
  BlockRules seed_client;
  bool empty() const { return client.empty() && seed_client.empty(); }
  json ToJson() const;
  static StatusOr<ClusterBlocklist> FromJson(const json& j);
  bool operator==(const ClusterBlocklist&) const = default;
};

// A cluster's scheduling settings. Absent fields keep the scheduler's own setting; in a patch,
// absent fields stay as they are.
struct ClusterConfig {
  std::optional<uint32_t> candidate_parent_limit;  // 1..20
  std::optional<uint32_t> filter_parent_limit;     // 0..1000
  std::optional<uint32_t> back_to_source_count;
  std::optional<uint32_t> upload_slots;
  std::optional<uint32_t> job_rate_limit;                 // preheat jobs per second
  std::optional<std::vector<std::string>> blocked_hosts;  // never chosen as parents
  std::optional<ClusterBlocklist> blocklist;
  json ToJson() const;
  // `what` names the object in errors ("scheduler_cluster_config").
  static StatusOr<ClusterConfig> FromJson(const json& j, const std::string& what);
  void Merge(const ClusterConfig& patch);
  bool operator==(const ClusterConfig&) const = default;
};

// A cluster as the API creates or changes it: absent fields are not given (create: defaults;
// update: unchanged).
struct ClusterSpec {
  std::optional<std::string> name;
  std::optional<std::string> bio;
  std::optional<bool> is_default;
  std::optional<ClusterScopes> scopes;
  std::optional<ClusterConfig> config;
  // Reads {name, bio, is_default, scopes, scheduler_cluster_config (or config)}.
  static StatusOr<ClusterSpec> FromJson(const json& body);
};

}  // namespace df::manager
