// Jobs (preheat, get_task, delete_task) on /api/v1/jobs and /oapi/v1/jobs, and Harbor's preheat
// API from before 2.12 (POST /preheats, GET /preheats/:id).
#include <spdlog/spdlog.h>

#include "dragonfly/manager/auth.h"
#include "manager/api.h"
#include "manager/api_routes.h"

namespace df::manager {
namespace {

class JobRoutes {
 public:
  explicit JobRoutes(ApiContext* ctx) : ctx_(ctx), store_(ctx->store) {}

  HttpResponse CreateJob(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    std::string type = StrField(*body, "type");
    if (type == "delete_task" && who.role != "root") {
      return HttpResponse::Error(403, "delete_task removes a task from every peer: root only");
    }
    auto args = ValidateJobArgs(type, body->value("args", json::object()));
    if (!args.ok()) {
      return ErrorOf(args.status());
    }
    if (type == "preheat" || type == "get_image_distribution") {  // the manager fetches these
      for (const std::string& url : PreheatUrls(*args)) {
        if (Status s = CheckPreheatDestination(ctx_->config->job, url); !s.ok()) {
          return ErrorOf(s);
        }
      }
    }
    JobRow job;
    job.type = type;
    job.bio = StrField(*body, "bio");
    job.args = *args;
    job.user_id = who.user_id;
    if (body->contains("scheduler_cluster_ids")) {
      const json& ids = (*body)["scheduler_cluster_ids"];
      if (!ids.is_array() || std::any_of(ids.begin(), ids.end(),
                                         [](const json& v) { return !v.is_number_unsigned(); })) {
        return HttpResponse::Error(400, "scheduler_cluster_ids must be a list of cluster IDs");
      }
      for (const auto& v : ids) {
        auto cluster = store_->GetCluster(v.get<int64_t>());
        if (!cluster.ok()) {
          return HttpResponse::Error(400, "scheduler cluster " + v.dump() + " does not exist");
        }
        job.scheduler_cluster_ids.push_back(v.get<int64_t>());
      }
    }
    auto row = store_->CreateJob(job);
    if (!row.ok()) {
      return ErrorOf(row.status());
    }
    spdlog::info("job created id={} type={} user={}", row->id, row->type, who.name);
    ctx_->jobs->Poke();
    return HttpResponse::Json(200, RedactedJob(*row));
  }

  // Job args as stored may carry credentials (headers, password): never returned.
  static json RedactedJob(const JobRow& job) {
    json j = job.ToJson();
    j["args"] = ScrubbedJobArgs(j["args"]);
    return j;
  }

  HttpResponse ListJobs(HttpRequest& req, const Principal& who) {
    auto num = [&](const char* k, int64_t def, int64_t max) -> int64_t {
      auto it = req.query.find(k);
      if (it == req.query.end() || it->second.empty() || it->second.size() > 9 ||
          it->second.find_first_not_of("0123456789") != std::string::npos) {
        return def;
      }
      return std::clamp<int64_t>(std::stoll(it->second), 1, max);
    };
    int64_t page = num("page", 1, 1000000);
    int64_t per_page = num("per_page", 10, 1000);
    std::string state = req.query.count("state") ? req.query.at("state") : "";
    std::string type = req.query.count("type") ? req.query.at("type") : "";
    int64_t user_id = num("user_id", -1, int64_t{1} << 40);  // -1: every user's (root)
    if (who.role != "root") {
      // Guests see their own jobs; anonymous callers (user 0) those created anonymously.
      user_id = who.user_id;
    }
    int64_t total = 0;
    auto jobs = store_->ListJobs(type, state, user_id, page, per_page, &total);
    if (!jobs.ok()) {
      return ErrorOf(jobs.status());
    }
    json out = json::array();
    for (const auto& j : *jobs) {
      out.push_back(RedactedJob(j));
    }
    HttpResponse r = HttpResponse::Json(200, out);
    r.headers.emplace_back("X-Total-Count", std::to_string(total));
    return r;
  }

  // Harbor before 2.12: POST /preheats.
  HttpResponse HarborCreate(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    if (!body.ok()) {
      return ErrorOf(body.status());
    }
    std::string type = StrField(*body, "type");
    if (type != "image" && type != "file") {
      return HttpResponse::Error(400, "type must be image or file");
    }
    json args = {{"type", type},
                 {"url", StrField(*body, "url")},
                 {"headers", body->value("headers", json::object())},
                 {"scope", "single_seed_peer"}};
    auto valid = ValidateJobArgs("preheat", args);
    if (!valid.ok()) {
      return ErrorOf(valid.status());
    }
    for (const std::string& url : PreheatUrls(*valid)) {
      if (Status s = CheckPreheatDestination(ctx_->config->job, url); !s.ok()) {
        return ErrorOf(s);
      }
    }
    // The image identity, hashed to fit the indexed column on every database.
    std::string key = auth::Sha256Hex(StrField(*body, "url") + "@" + StrField(*body, "digest"));
    auto existing = store_->FindJobByHarborKey(key);
    if (!existing.ok()) {
      return ErrorOf(existing.status());
    }
    if (existing->has_value() && (*existing)->state != "FAILURE") {
      return HttpResponse::Json(208, {{"ID", std::to_string((*existing)->id)}});
    }
    JobRow job;
    job.type = "preheat";
    job.bio = "harbor preheat " + StrField(*body, "image") + ":" + StrField(*body, "tag");
    job.args = *valid;
    job.user_id = who.user_id;
    job.harbor_key = key;
    auto row = store_->CreateJob(job);
    if (!row.ok()) {
      return ErrorOf(row.status());
    }
    ctx_->jobs->Poke();
    return HttpResponse::Json(200, {{"ID", std::to_string(row->id)}});
  }

  HttpResponse HarborGet(HttpRequest& req, const Principal& who) {
    auto id = IdParam(req);
    if (!id.ok()) {
      return ErrorOf(id.status());
    }
    auto job = store_->GetJob(*id);
    if (!job.ok()) {
      return ErrorOf(job.status());
    }
    if (who.role != "root" && job->user_id != who.user_id) {
      return HttpResponse::Error(404, "job not found");
    }
    std::string status = job->state == "SUCCESS"   ? "SUCCESS"
                         : job->state == "FAILURE" ? "FAILED"
                         : job->owner.empty()      ? "WAITING"
                                                   : "RUNNING";
    std::string error;
    if (job->state == "FAILURE" && job->result.contains("job_states")) {
      for (const auto& s : job->result["job_states"]) {
        if (!s.value("error", "").empty()) {
          error += (error.empty() ? "" : "; ") + s.value("error", "");
        }
      }
    }
    bool done = job->state != "PENDING";
    return HttpResponse::Json(200, {{"ID", std::to_string(job->id)},
                                    {"startTime", Rfc3339(job->created_at)},
                                    {"finishTime", done ? Rfc3339(job->updated_at) : ""},
                                    {"errorMsg", error},
                                    {"Status", status}});
  }

  void Register(ApiRoutes& r) {
    // Jobs.
    for (std::string prefix : {"/api/v1/jobs", "/oapi/v1/jobs"}) {
      std::string scope = prefix.rfind("/oapi", 0) == 0 ? "job" : "";
      r.Add("POST", prefix, Access::For(scope, false),
            "Create a job {type: preheat | get_task | delete_task | get_image_distribution, args, "
            "scheduler_cluster_ids, bio}",
            [this](HttpRequest& q, const Principal& p) { return CreateJob(q, p); });
      r.Add("GET", prefix, Access::For(scope, false),
            "List jobs (?type, state, user_id, page, per_page; X-Total-Count)",
            [this](HttpRequest& q, const Principal& p) { return ListJobs(q, p); });
      r.Add("GET", prefix + "/:id", Access::For(scope, false), "Get a job and its result",
            [this](HttpRequest& q, const Principal& p) {
              auto id = IdParam(q);
              auto j = id.ok() ? store_->GetJob(*id) : StatusOr<JobRow>(id.status());
              if (j.ok() && p.role != "root" && j->user_id != p.user_id) {
                return HttpResponse::Error(404, "job not found");
              }
              return j.ok() ? HttpResponse::Json(200, RedactedJob(*j)) : ErrorOf(j.status());
            });
      r.Add("DELETE", prefix + "/:id", Access::For(scope, true), "Delete a job",
            [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              Status s = id.ok() ? store_->DeleteJob(*id) : id.status();
              return s.ok() ? HttpResponse::Json(200, json::object()) : ErrorOf(s);
            });
    }

    // Harbor before 2.12.
    r.Add("POST", "/preheats", Access::Token("job"),
          "Harbor (before 2.12): start a preheat {type, url, headers, image, tag, digest} -> {ID}",
          [this](HttpRequest& q, const Principal& p) { return HarborCreate(q, p); });
    r.Add("GET", "/preheats/:id", Access::Token("job"), "Harbor (before 2.12): a preheat's status",
          [this](HttpRequest& q, const Principal& p) { return HarborGet(q, p); });
  }

 private:
  ApiContext* ctx_;
  Store* store_;
};

}  // namespace

void AddJobRoutes(ApiRoutes& r, ApiContext* ctx) {
  auto j = std::make_shared<JobRoutes>(ctx);
  j->Register(r);
  r.Keep(j);
}

}  // namespace df::manager
