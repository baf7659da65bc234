// Fetching a task from its origin (back-to-source): the seed peer's job, and any peer's when the
// scheduler allows it. Resumes after the pieces already stored; each piece is verified-by-
// construction (its CRC computed here) and written as it completes.
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "api/scheduler.pb.h"
#include "dragonfly/backend/http_backend.h"
#include "dragonfly/storage/task_store.h"

namespace df::daemon {

struct DaemonMetrics;

struct OriginFetch {
  const ::dragonfly::api::scheduler::TaskSpec* spec = nullptr;
  storage::Task* task = nullptr;
  backend::HttpBackend* backend = nullptr;
  DaemonMetrics* metrics = nullptr;
  const std::atomic<bool>* cancelled = nullptr;
  std::function<void()> on_geometry;        // the task's geometry became known
  std::function<void(uint32_t)> on_piece;   // piece n is stored
  std::atomic<uint64_t>* bytes = nullptr;   // counts the bytes fetched
  std::atomic<uint32_t>* pieces = nullptr;  // ... and the pieces stored (optional)
  int* http_status = nullptr;               // the origin's answer (optional)
  int* attempts = nullptr;                  // requests made: 1 + retries (optional)
  // The digest the origin's bytes must have ("sha256:<hex>"), checked before the last piece is
  // stored, so a task never completes (nor is the last piece served) with other content.
  std::string digest;
  bool* digest_mismatch = nullptr;  // set when the check failed
};

// The credentials a task's spec brings for its object store, if any (dfget --storage-*).
std::optional<backend::StorageCredentials> StorageOf(
    const ::dragonfly::api::scheduler::ObjectStorage* storage);

// Fetches what the task lacks from the origin; ok once the task is done.
Status FetchFromOrigin(const OriginFetch& f);

}  // namespace df::daemon
