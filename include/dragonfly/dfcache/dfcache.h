// dfcache: persistent cache tasks through the local dfdaemon (docs/dfcache.md). A file imported
// on one host becomes a task named by its content, held by `replicas` hosts of the cluster (seed
// peers first) until its TTL ends, and exported on any host through P2P with no origin at all.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "api/scheduler.pb.h"
#include "dragonfly/common/status.h"

namespace df::dfcache {

struct ImportOptions {
  std::string path;
  std::string id;  // empty: the content's ID
  uint32_t replicas = 2;
  uint64_t ttl_ms = 3600 * 1000;
  std::string tag;
  std::string application;
  uint32_t piece_length = 0;  // 0: chosen from the size
  std::string endpoint = "/var/run/dragonfly/dfdaemon.sock";
};

struct ImportResult {
  std::string task_id;
  int64_t content_length = 0;
  double seconds = 0;
};

// Streams the file (read with this process's rights) to the daemon, which stores it, takes its
// digest and tells the cluster. `progress` (may be null) gets the bytes sent so far.
StatusOr<ImportResult> Import(const ImportOptions& o,
                              const std::function<void(uint64_t sent, uint64_t total)>& progress);

// The task's state in the cluster; NotFound when it is not there.
StatusOr<::dragonfly::api::scheduler::StatPersistentCacheTaskResponse> Stat(
    const std::string& endpoint, const std::string& task_id);

// Deletes the task everywhere; returns how many hosts were told.
StatusOr<uint32_t> Delete(const std::string& endpoint, const std::string& task_id);

// `dfcache stat`'s text: state, size, digest, expiry and holders.
std::string Describe(const ::dragonfly::api::scheduler::StatPersistentCacheTaskResponse& s,
                     int64_t now_ms);

}  // namespace df::dfcache
