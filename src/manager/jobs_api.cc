// Jobs (preheat, get_task, delete_task, get_image_distribution; handlers over JobService) on
// /api/v1/jobs and /oapi/v1/jobs, and Harbor's preheat API from before 2.12 (POST /preheats, GET
// /preheats/:id).
#include <algorithm>

#include "manager/api.h"
#include "manager/api_routes.h"
#include "manager/job_service.h"

namespace df::manager {
namespace {

class JobRoutes {
 public:
  explicit JobRoutes(ApiContext* ctx) : jobs_(ctx->store, ctx->jobs, &ctx->config->job) {}

  HttpResponse CreateJob(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    auto in = body.ok() ? NewJob::FromJson(*body) : StatusOr<NewJob>(body.status());
    auto row = in.ok() ? jobs_.Create(who, *in) : StatusOr<JobRow>(in.status());
    return row.ok() ? HttpResponse::Json(200, JobService::Redacted(*row)) : ErrorOf(row.status());
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
    JobQuery q;
    q.page = num("page", 1, 1000000);
    q.per_page = num("per_page", 10, 1000);
    q.state = req.query.count("state") ? req.query.at("state") : "";
    q.type = req.query.count("type") ? req.query.at("type") : "";
    if (int64_t user = num("user_id", -1, int64_t{1} << 40); user > 0) {
      q.user_id = user;
    }
    auto page = jobs_.List(who, q);
    if (!page.ok()) {
      return ErrorOf(page.status());
    }
    json out = json::array();
    for (const auto& j : page->jobs) {
      out.push_back(JobService::Redacted(j));
    }
    HttpResponse r = HttpResponse::Json(200, out);
    r.headers.emplace_back("X-Total-Count", std::to_string(page->total));
    return r;
  }

  // Harbor before 2.12: POST /preheats.
  HttpResponse HarborCreate(HttpRequest& req, const Principal& who) {
    auto body = ParseBody(req);
    auto in = body.ok() ? HarborPreheat::FromJson(*body) : StatusOr<HarborPreheat>(body.status());
    bool existing = false;
    auto row = in.ok() ? jobs_.CreateHarbor(who, *in, &existing) : StatusOr<JobRow>(in.status());
    if (!row.ok()) {
      return ErrorOf(row.status());
    }
    return HttpResponse::Json(existing ? 208 : 200, {{"ID", std::to_string(row->id)}});
  }

  HttpResponse HarborGet(HttpRequest& req, const Principal& who) {
    auto id = IdParam(req);
    auto job = id.ok() ? jobs_.Get(who, *id) : StatusOr<JobRow>(id.status());
    if (!job.ok()) {
      return ErrorOf(job.status());
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
              auto j = id.ok() ? jobs_.Get(p, *id) : StatusOr<JobRow>(id.status());
              return j.ok() ? HttpResponse::Json(200, JobService::Redacted(*j))
                            : ErrorOf(j.status());
            });
      r.Add("DELETE", prefix + "/:id", Access::For(scope, true), "Delete a job",
            [this](HttpRequest& q, const Principal&) {
              auto id = IdParam(q);
              Status s = id.ok() ? jobs_.Delete(*id) : id.status();
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
  JobService jobs_;
};

}  // namespace

void AddJobRoutes(ApiRoutes& r, ApiContext* ctx) {
  auto j = std::make_shared<JobRoutes>(ctx);
  j->Register(r);
  r.Keep(j);
}

}  // namespace df::manager
