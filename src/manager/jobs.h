// Job workers: claim PENDING jobs from the database (atomically, with a lease that the worker
// renews; a job whose manager died is taken over when its lease runs out), run them, record
// SUCCESS or FAILURE with the per-task results. Jobs: preheat (image or file, into one seed peer
// picked by hash, all seed peers, or all peers), get_task, delete_task.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dragonfly/manager/config.h"
#include "dragonfly/rpc/tls.h"
#include "manager/store.h"

namespace df::manager {

// Validates and normalizes the args of a new job of `type` (defaults filled in). The error
// message names the bad field.
StatusOr<json> ValidateJobArgs(const std::string& type, const json& args);

// A job's args without their credentials (password, header values): what is kept once the job
// has run, and what the API shows.
json ScrubbedJobArgs(json args);

// The URLs a validated preheat fetches: an image's manifest, or a file preheat's `urls`.
std::vector<std::string> PreheatUrls(const json& args);
// PermissionDenied when preheat `url`'s host is, or resolves to, an address in
// job.deniedNetworks that job.allowedNetworks does not allow (so no one can make the manager or
// a seed peer fetch from the cluster's internal services). A name that does not resolve passes
// here; the fetch fails later.
Status CheckPreheatDestination(const ManagerConfig::Job& policy, const std::string& url);

class JobRunner {
 public:
  // Counts finished jobs in `registry` (dragonfly_manager_jobs_total{type,state}).
  // `credentials`: for the daemons' upload RPC (TLS or plaintext).
  JobRunner(Store* store, const ManagerConfig& config, prometheus::Registry& registry,
            std::shared_ptr<const rpc::Credentials> credentials);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Each job becomes a trace (null: none), carried to the daemons it runs on.
  void set_tracer(tracing::Tracer* tracer) { tracer_ = tracer; }
  void Start();
  void Stop();
  // Wakes an idle worker (a job was just created).
  void Poke();

 private:
  void Worker();
  void Run(const JobRow& job, const std::string& owner);
  json Execute(const JobRow& job, const std::atomic<bool>& lost);

  Store* store_;
  tracing::Tracer* tracer_ = nullptr;
  const ManagerConfig& config_;
  const std::shared_ptr<const rpc::Credentials> credentials_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Histogram>& durations_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<bool> halt_{false};
  uint64_t pokes_ = 0;
};

}  // namespace df::manager
