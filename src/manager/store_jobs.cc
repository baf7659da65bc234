// Store: jobs and their leases.
#include <spdlog/spdlog.h>

#include "manager/store.h"
#include "manager/store_rows.h"

namespace df::manager {

using namespace store_rows;  // NOLINT(google-build-using-namespace): the store's own helpers

StatusOr<JobRow> Store::CreateJob(JobRow job) {
  job.task_id = NewGroupId();
  job.state = "PENDING";
  job.created_at = job.updated_at = NowMs();
  json ids = job.scheduler_cluster_ids;
  Value harbor = job.harbor_key.empty() ? Value(nullptr) : Value(job.harbor_key);
  DF_ASSIGN_OR_RETURN(
      job.id,
      db_->Insert("INSERT INTO jobs (task_id, bio, type, state, args, result, user_id, "
                  "scheduler_cluster_ids, owner, lease_until, attempts, harbor_key, created_at, "
                  "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?, ?)",
                  {job.task_id, job.bio, job.type, job.state, Dump(job.args), Dump(job.result),
                   job.user_id, Dump(ids), harbor, job.created_at, job.updated_at}));
  return job;
}

StatusOr<JobRow> Store::GetJob(int64_t id) {
  return One<JobRow>(db_->Exec(std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = ?", {id}),
                     "job", ToJob);
}

StatusOr<std::optional<JobRow>> Store::FindJobByHarborKey(const std::string& key) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec(std::string("SELECT ") + kJobCols +
                                            " FROM jobs WHERE harbor_key = ? ORDER BY id DESC",
                                        {key}));
  if (r.rows.empty()) {
    return std::optional<JobRow>();
  }
  return std::optional<JobRow>(ToJob(r.rows[0]));
}

StatusOr<std::vector<JobRow>> Store::ListJobs(const std::string& type, const std::string& state,
                                              int64_t user_id, int64_t page, int64_t per_page,
                                              int64_t* total) {
  std::string where = " WHERE 1 = 1";
  std::vector<Value> params;
  if (!type.empty()) {
    where += " AND type = ?";
    params.emplace_back(type);
  }
  if (!state.empty()) {
    where += " AND state = ?";
    params.emplace_back(state);
  }
  if (user_id >= 0) {
    where += " AND user_id = ?";
    params.emplace_back(user_id);
  }
  DF_ASSIGN_OR_RETURN(auto count, db_->Exec("SELECT COUNT(*) FROM jobs" + where, params));
  *total = count.rows[0].Int(0);
  params.emplace_back(per_page);
  params.emplace_back((page - 1) * per_page);
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec(std::string("SELECT ") + kJobCols + " FROM jobs" + where +
                                            " ORDER BY id DESC LIMIT ? OFFSET ?",
                                        params));
  std::vector<JobRow> out;
  for (const auto& row : r.rows) {
    out.push_back(ToJob(row));
  }
  return out;
}

Status Store::DeleteJob(int64_t id) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("DELETE FROM jobs WHERE id = ?", {id}));
  return r.affected_rows == 0 ? NotFound("job not found") : Status::Ok();
}

StatusOr<std::optional<JobRow>> Store::ClaimJob(const std::string& owner, int64_t now,
                                                int64_t lease_until, int64_t max_attempts) {
  json gave_up = FailedJobResult("", "",
                                 "gave up after " + std::to_string(max_attempts) +
                                     " attempts: the manager running the job stopped "
                                     "each time");
  DF_RETURN_IF_ERROR(db_->Exec("UPDATE jobs SET state = 'FAILURE', result = ?, updated_at = ? "
                               "WHERE state = 'PENDING' AND lease_until < ? AND attempts >= ?",
                               {Dump(gave_up), now, now, max_attempts})
                         .status());
  DF_ASSIGN_OR_RETURN(auto candidates,
                      db_->Exec("SELECT id FROM jobs WHERE state = 'PENDING' AND lease_until < ? "
                                "AND attempts < ? ORDER BY id LIMIT 8",
                                {now, max_attempts}));
  for (const auto& row : candidates.rows) {
    int64_t id = row.Int(0);
    // The compare-and-set: exactly one manager's UPDATE matches.
    DF_ASSIGN_OR_RETURN(
        auto r, db_->Exec("UPDATE jobs SET owner = ?, lease_until = ?, attempts = attempts + 1 "
                          "WHERE id = ? AND state = 'PENDING' AND lease_until < ?",
                          {owner, lease_until, id, now}));
    if (r.affected_rows == 1) {
      DF_ASSIGN_OR_RETURN(JobRow job, GetJob(id));
      return std::optional<JobRow>(std::move(job));
    }
  }
  return std::optional<JobRow>();
}

StatusOr<bool> Store::RenewJob(int64_t id, const std::string& owner, int64_t lease_until) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = "
                                        "? AND state = 'PENDING'",
                                        {lease_until, id, owner}));
  return r.affected_rows == 1;
}

Status Store::ReleaseJob(int64_t id, const std::string& owner) {
  return db_
      ->Exec("UPDATE jobs SET lease_until = 0 WHERE id = ? AND owner = ? AND state = 'PENDING'",
             {id, owner})
      .status();
}

StatusOr<bool> Store::FinishJob(int64_t id, const std::string& owner, const std::string& state,
                                const json& result, const json& args) {
  DF_ASSIGN_OR_RETURN(auto r, db_->Exec("UPDATE jobs SET state = ?, result = ?, args = ?, "
                                        "updated_at = ? WHERE id = ? AND owner = ? AND state = "
                                        "'PENDING'",
                                        {state, Dump(result), Dump(args), NowMs(), id, owner}));
  return r.affected_rows == 1;
}

}  // namespace df::manager
