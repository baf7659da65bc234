// The live swarm view: GET /api/v1/swarm/tasks[?cluster_id=N&limit=M] and
// GET /api/v1/swarm/tasks/:task_id; the persistent cache tasks (dfcache):
// GET /api/v1/persistent-cache-tasks[?cluster_id=N] and DELETE .../:task_id (SwarmInspector asks
// the schedulers).
#include "manager/api.h"
#include "manager/api_routes.h"
#include "manager/swarm.h"

namespace df::manager {
namespace {

// A decimal query parameter in [min, max]; `def` when absent.
StatusOr<int64_t> QueryInt(const HttpRequest& q, const char* name, int64_t def, int64_t min,
                           int64_t max) {
  auto it = q.query.find(name);
  if (it == q.query.end() || it->second.empty()) {
    return def;
  }
  const std::string& v = it->second;
  if (v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(v) < min || std::stoll(v) > max) {
    return InvalidArgument(std::string(name) + " must be an integer from " + std::to_string(min) +
                           " to " + std::to_string(max));
  }
  return std::stoll(v);
}

bool HexTaskId(const std::string& id) {
  return !id.empty() && id.size() <= 128 &&
         id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

void AddSwarmRoutes(ApiRoutes& r, ApiContext* ctx) {
  SwarmInspector* swarm = ctx->swarm;
  r.Add("GET", "/api/v1/swarm/tasks", Access::User(),
        "The most recently active tasks of the schedulers (?cluster_id, limit 1-1000)",
        [swarm](HttpRequest& q, const Principal&) {
          auto cluster = QueryInt(q, "cluster_id", 0, 1, int64_t{1} << 40);
          auto limit = QueryInt(q, "limit", 50, 1, 1000);
          if (!cluster.ok() || !limit.ok()) {
            return ErrorOf(!cluster.ok() ? cluster.status() : limit.status());
          }
          auto tasks =
              swarm->ListTasks(*cluster > 0 ? std::optional<int64_t>(*cluster) : std::nullopt,
                               static_cast<uint32_t>(*limit));
          return tasks.ok() ? HttpResponse::Json(200, *tasks) : ErrorOf(tasks.status());
        });
  r.Add("GET", "/api/v1/swarm/tasks/:task_id", Access::User(),
        "A task's swarm: its peers, who feeds whom at what rate, where the bytes came from",
        [swarm](HttpRequest& q, const Principal&) {
          const std::string& id = q.params.at("task_id");
          if (!HexTaskId(id)) {
            return HttpResponse::Error(400, "task_id must be a hex task ID");
          }
          auto swarm_json = swarm->Inspect(id);
          return swarm_json.ok() ? HttpResponse::Json(200, *swarm_json)
                                 : ErrorOf(swarm_json.status());
        });
  r.Add("GET", "/api/v1/persistent-cache-tasks", Access::User(),
        "The persistent cache tasks (dfcache) with their holders (?cluster_id)",
        [swarm](HttpRequest& q, const Principal&) {
          auto cluster = QueryInt(q, "cluster_id", 0, 1, int64_t{1} << 40);
          if (!cluster.ok()) {
            return ErrorOf(cluster.status());
          }
          auto tasks = swarm->ListPersistentCacheTasks(
              *cluster > 0 ? std::optional<int64_t>(*cluster) : std::nullopt);
          return tasks.ok() ? HttpResponse::Json(200, *tasks) : ErrorOf(tasks.status());
        });
  r.Add("DELETE", "/api/v1/persistent-cache-tasks/:task_id", Access::Root(),
        "Deletes a persistent cache task from every host",
        [swarm](HttpRequest& q, const Principal&) {
          const std::string& id = q.params.at("task_id");
          if (!HexTaskId(id)) {
            return HttpResponse::Error(400, "task_id must be a hex task ID");
          }
          auto deleted = swarm->DeletePersistentCacheTask(id);
          return deleted.ok() ? HttpResponse::Json(200, *deleted) : ErrorOf(deleted.status());
        });
}

}  // namespace df::manager
