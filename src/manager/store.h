// Data access of the manager over db::Database: users, personal access tokens, clusters,
// components (schedulers and seed peers), jobs and settings. Rows come back as the JSON the
// REST API returns (times as RFC 3339 strings). Thread-safe (the Database serializes calls).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/manager/db.h"
#include "manager/cluster_model.h"
#include "manager/user_model.h"

namespace df::manager {

using nlohmann::json;

int64_t NowMs();
std::string Rfc3339(int64_t ms);
StatusOr<int64_t> ParseRfc3339(const std::string& s);  // -> ms

// A job's `result` when it failed as a whole: Dragonfly's layout with one FAILURE job state
// carrying `error`. `group_uuid` may be empty (a result written to several jobs at once).
json FailedJobResult(const std::string& group_uuid, const std::string& task_name,
                     const std::string& error);

struct UserRow {
  int64_t id = 0;
  std::string name;
  std::string email;
  std::string password_hash;
  std::string role;
  std::string state;
  json ToJson() const;  // without the hash
};

struct TokenRow {
  int64_t id = 0;
  std::string name;
  std::vector<std::string> scopes;
  std::string state;
  int64_t expired_at = 0;
  int64_t user_id = 0;
};

struct ComponentRow {
  int64_t id = 0;
  std::string type;  // "scheduler", "seed_peer" or "peer" (a daemon that asked for schedulers)
  std::string hostname;
  std::string ip;
  int port = 0;
  int piece_port = 0;
  std::string idc;
  std::string location;
  std::string state;  // "active" or "inactive"
  int64_t cluster_id = 0;
  int64_t last_keepalive_at = 0;
  std::string version;  // its build, as it reports it ("" before it did)
  std::string git_commit;
  json ToJson() const;
};

struct ClusterRow {
  int64_t id = 0;
  std::string name;
  std::string bio;
  ClusterScopes scopes;
  ClusterConfig config;  // pushed to the cluster's schedulers
  int64_t config_version = 0;
  bool is_default = false;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  json ToJson() const;
};

struct JobRow {
  int64_t id = 0;
  std::string task_id;  // "group_<uuid>"
  std::string bio;
  std::string type;
  std::string state;  // PENDING, SUCCESS, FAILURE
  json args;
  json result;
  int64_t user_id = 0;
  std::vector<int64_t> scheduler_cluster_ids;
  std::string harbor_key;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::string owner;     // the manager running it; empty = not claimed yet
  int64_t attempts = 0;  // times claimed
  json ToJson() const;
};

class Store {
 public:
  explicit Store(std::unique_ptr<db::Database> db) : db_(std::move(db)) {}
  db::Database& db() { return *db_; }

  // Migrations, the default cluster, the root user and the JWT key (generated once). The root
  // user gets `root_password`; when that is empty, a random one returned in
  // `*generated_root_password` (set only by the replica that created root), or, with nullptr
  // there, FailedPrecondition: there is no default password.
  Status Bootstrap(const std::string& root_password, std::string* jwt_key,
                   std::string* generated_root_password);

  // Users.
  StatusOr<UserRow> CreateUser(const std::string& name, const std::string& email,
                               const std::string& password, const std::string& role);
  StatusOr<UserRow> GetUser(int64_t id);
  StatusOr<UserRow> GetUserByName(const std::string& name);
  StatusOr<std::vector<UserRow>> ListUsers();
  // Applies the fields `patch` gives, in one transaction: FailedPrecondition when it would
  // demote or disable the last enabled root (nobody could manage the manager any more).
  Status UpdateUser(int64_t id, const UserPatch& patch);
  Status SetPassword(int64_t id, const std::string& password);

  // Personal access tokens: Create returns the row and sets *plaintext (shown once).
  StatusOr<TokenRow> CreateToken(const std::string& name, const std::string& bio,
                                 const std::vector<std::string>& scopes, int64_t expired_at,
                                 int64_t user_id, std::string* plaintext);
  StatusOr<TokenRow> FindToken(const std::string& plaintext);
  StatusOr<json> ListTokens(int64_t user_id);  // user_id 0 = all
  Status UpdateTokenState(int64_t id, const std::string& state);
  Status DeleteToken(int64_t id);

  // Clusters. At most one is the default: a cluster made the default takes the flag from the
  // others in the same transaction.
  StatusOr<ClusterRow> CreateCluster(const ClusterRow& c);
  StatusOr<ClusterRow> GetCluster(int64_t id);
  StatusOr<std::vector<ClusterRow>> ListClusters();
  // Applies the fields `patch` gives; config fields are merged into the current config, and a
  // config change bumps the version (the schedulers apply newer versions only).
  StatusOr<ClusterRow> UpdateCluster(int64_t id, const ClusterSpec& patch);
  Status DeleteCluster(int64_t id);

  // Applications: {name, url, bio, priority: {"value": 0-6, "urls": [...]}} as Dragonfly's.
  StatusOr<json> CreateApplication(const json& app, int64_t user_id);
  StatusOr<json> GetApplication(int64_t id);
  StatusOr<json> ListApplications();
  StatusOr<json> UpdateApplication(int64_t id, const json& patch);
  Status DeleteApplication(int64_t id);

  // Components.
  StatusOr<ComponentRow> UpsertComponent(const ComponentRow& c, const std::string& manager);
  Status TouchComponent(int64_t id, const std::string& manager);
  // Marks a component inactive unless another manager has taken its stream over since.
  Status DeactivateComponent(int64_t id, const std::string& manager);
  // Marks active components of `type` whose keepalive is older than `stale_before_ms` inactive.
  Status ExpireComponents(const std::string& type, int64_t stale_before_ms);
  StatusOr<std::vector<ComponentRow>> ListComponents(const std::string& type,
                                                     const std::string& state = "");
  // Forgets an inactive component (FailedPrecondition while it is active: it would only come
  // back); it is recorded again if it ever connects.
  Status DeleteInactiveComponent(const std::string& type, int64_t id);

  // Jobs.
  StatusOr<JobRow> CreateJob(JobRow job);
  StatusOr<JobRow> GetJob(int64_t id);
  StatusOr<std::optional<JobRow>> FindJobByHarborKey(const std::string& key);
  // user_id < 0: every user's jobs (0 is the anonymous open-API caller).
  StatusOr<std::vector<JobRow>> ListJobs(const std::string& type, const std::string& state,
                                         int64_t user_id, int64_t page, int64_t per_page,
                                         int64_t* total);
  Status DeleteJob(int64_t id);
  // Atomically claims a PENDING job whose lease is free (never claimed, or its owner stopped
  // renewing) for `owner` until `lease_until`. nullopt when there is none. Jobs already claimed
  // `max_attempts` times whose lease ran out are failed instead.
  StatusOr<std::optional<JobRow>> ClaimJob(const std::string& owner, int64_t now,
                                           int64_t lease_until, int64_t max_attempts);
  // Extends the lease; false when another manager took the job over.
  StatusOr<bool> RenewJob(int64_t id, const std::string& owner, int64_t lease_until);
  // Gives a claimed job back (its lease ends now) if `owner` still holds it.
  Status ReleaseJob(int64_t id, const std::string& owner);
  // Records the outcome if `owner` still holds the job.
  // Also replaces the job's args with `args` (its credentials scrubbed: they are not needed once
  // the job has run).
  StatusOr<bool> FinishJob(int64_t id, const std::string& owner, const std::string& state,
                           const json& result, const json& args);

 private:
  std::unique_ptr<db::Database> db_;
};

}  // namespace df::manager
