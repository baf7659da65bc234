// Jobs as the REST API creates and reads them, over the Store and the JobRunner: who may run and
// see which job, args checked (and the preheat destination policy) before a job is stored, the
// runner woken, credentials never shown. Harbor's old preheat API maps onto the same jobs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/manager/config.h"
#include "manager/api_util.h"
#include "manager/jobs.h"
#include "manager/store.h"

namespace df::manager {

using nlohmann::json;

// A job to create: Dragonfly's {type, args, bio, scheduler_cluster_ids}.
struct NewJob {
  std::string type;  // preheat, get_task, delete_task, get_image_distribution
  std::string bio;
  json args;                                   // as given; JobService checks it against `type`
  std::vector<int64_t> scheduler_cluster_ids;  // empty: every cluster
  static StatusOr<NewJob> FromJson(const json& body);
};

// Harbor before 2.12: POST /preheats {type, url, headers, image, tag, digest}.
struct HarborPreheat {
  std::string type;  // image, file
  std::string url;
  json headers = json::object();
  std::string image, tag, digest;
  static StatusOr<HarborPreheat> FromJson(const json& body);
};

struct JobQuery {
  std::string type, state;         // "" = any
  std::optional<int64_t> user_id;  // root only; others see their own jobs
  int64_t page = 1, per_page = 10;
};

struct JobPage {
  std::vector<JobRow> jobs;
  int64_t total = 0;
};

class JobService {
 public:
  JobService(Store* store, JobRunner* runner, const ManagerConfig::Job* policy)
      : store_(store), runner_(runner), policy_(policy) {}

  // PermissionDenied: delete_task for a non-root caller, or a URL in a denied network;
  // InvalidArgument: bad args or an unknown cluster.
  StatusOr<JobRow> Create(const Principal& who, const NewJob& job);
  // The job of an image already preheated (not failed) comes back with `*existing` set.
  StatusOr<JobRow> CreateHarbor(const Principal& who, const HarborPreheat& p, bool* existing);
  StatusOr<JobPage> List(const Principal& who, const JobQuery& q);
  // NotFound for a job of another user (unless root).
  StatusOr<JobRow> Get(const Principal& who, int64_t id);
  Status Delete(int64_t id);

  // A job as the API shows it: args without credentials.
  static json Redacted(const JobRow& job);

 private:
  Status CheckDestinations(const std::string& type, const json& args) const;

  Store* store_;
  JobRunner* runner_;
  const ManagerConfig::Job* policy_;
};

}  // namespace df::manager
