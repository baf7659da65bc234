#include "manager/job_service.h"

#include <spdlog/spdlog.h>

#include "dragonfly/manager/auth.h"

namespace df::manager {

StatusOr<NewJob> NewJob::FromJson(const json& body) {
  DF_RETURN_IF_ERROR(CheckTypes(body, {"type", "bio"}, json::value_t::string, "a string"));
  NewJob j;
  j.type = StrField(body, "type");
  j.bio = StrField(body, "bio");
  if (j.bio.size() > 1024) {
    return InvalidArgument("bio must have at most 1024 characters");
  }
  j.args = body.value("args", json::object());
  if (body.contains("scheduler_cluster_ids")) {
    const json& ids = body["scheduler_cluster_ids"];
    if (!ids.is_array() || ids.size() > 1000 ||
        std::any_of(ids.begin(), ids.end(),
                    [](const json& v) { return !v.is_number_unsigned(); })) {
      return InvalidArgument("scheduler_cluster_ids must be a list of cluster IDs");
    }
    for (const auto& v : ids) {
      j.scheduler_cluster_ids.push_back(v.get<int64_t>());
    }
  }
  return j;
}

StatusOr<HarborPreheat> HarborPreheat::FromJson(const json& body) {
  DF_RETURN_IF_ERROR(CheckTypes(body, {"type", "url", "image", "tag", "digest"},
                                json::value_t::string, "a string"));
  HarborPreheat p;
  p.type = StrField(body, "type");
  if (p.type != "image" && p.type != "file") {
    return InvalidArgument("type must be image or file");
  }
  p.url = StrField(body, "url");
  p.headers = body.value("headers", json::object());
  p.image = StrField(body, "image");
  p.tag = StrField(body, "tag");
  p.digest = StrField(body, "digest");
  return p;
}

json JobService::Redacted(const JobRow& job) {
  json j = job.ToJson();
  j["args"] = ScrubbedJobArgs(j["args"]);
  return j;
}

Status JobService::CheckDestinations(const std::string& type, const json& args) const {
  if (type != "preheat" && type != "get_image_distribution") {
    return Status::Ok();  // the others only ask the daemons
  }
  for (const std::string& url : PreheatUrls(args)) {  // the URLs the manager or a seed fetches
    DF_RETURN_IF_ERROR(CheckPreheatDestination(*policy_, url));
  }
  return Status::Ok();
}

StatusOr<JobRow> JobService::Create(const Principal& who, const NewJob& in) {
  if (in.type == "delete_task" && who.role != "root") {
    return PermissionDenied("delete_task removes a task from every peer: root only");
  }
  JobRow job;
  job.type = in.type;
  job.bio = in.bio;
  DF_ASSIGN_OR_RETURN(job.args, ValidateJobArgs(in.type, in.args));
  DF_RETURN_IF_ERROR(CheckDestinations(in.type, job.args));
  for (int64_t id : in.scheduler_cluster_ids) {
    if (!store_->GetCluster(id).ok()) {
      return InvalidArgument("scheduler cluster " + std::to_string(id) + " does not exist");
    }
  }
  job.scheduler_cluster_ids = in.scheduler_cluster_ids;
  job.user_id = who.user_id;
  DF_ASSIGN_OR_RETURN(JobRow row, store_->CreateJob(job));
  spdlog::info("job created id={} type={} user={}", row.id, row.type, who.name);
  runner_->Poke();
  return row;
}

StatusOr<JobRow> JobService::CreateHarbor(const Principal& who, const HarborPreheat& p,
                                          bool* existing) {
  *existing = false;
  json args = {
      {"type", p.type}, {"url", p.url}, {"headers", p.headers}, {"scope", "single_seed_peer"}};
  DF_ASSIGN_OR_RETURN(json valid, ValidateJobArgs("preheat", args));
  DF_RETURN_IF_ERROR(CheckDestinations("preheat", valid));
  // The image identity, hashed to fit the indexed column on every database.
  std::string key = auth::Sha256Hex(p.url + "@" + p.digest);
  DF_ASSIGN_OR_RETURN(std::optional<JobRow> found, store_->FindJobByHarborKey(key));
  if (found.has_value() && found->state != "FAILURE") {
    *existing = true;
    return *found;
  }
  JobRow job;
  job.type = "preheat";
  job.bio = "harbor preheat " + p.image + ":" + p.tag;
  job.args = valid;
  job.user_id = who.user_id;
  job.harbor_key = key;
  DF_ASSIGN_OR_RETURN(JobRow row, store_->CreateJob(job));
  spdlog::info("job created id={} type=preheat (harbor) user={}", row.id, who.name);
  runner_->Poke();
  return row;
}

StatusOr<JobPage> JobService::List(const Principal& who, const JobQuery& q) {
  // Root sees every user's jobs (or one user's); guests their own; anonymous callers (user 0)
  // those created anonymously.
  int64_t user_id = who.role == "root" ? q.user_id.value_or(-1) : who.user_id;
  JobPage page;
  DF_ASSIGN_OR_RETURN(page.jobs,
                      store_->ListJobs(q.type, q.state, user_id, q.page, q.per_page, &page.total));
  return page;
}

StatusOr<JobRow> JobService::Get(const Principal& who, int64_t id) {
  DF_ASSIGN_OR_RETURN(JobRow job, store_->GetJob(id));
  if (who.role != "root" && job.user_id != who.user_id) {
    return NotFound("job not found");
  }
  return job;
}

Status JobService::Delete(int64_t id) { return store_->DeleteJob(id); }

}  // namespace df::manager
