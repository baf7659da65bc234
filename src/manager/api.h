// The manager's REST API (Dragonfly-compatible where users script it): /healthy, users and
// sign-in (JWT), personal access tokens, clusters, schedulers and seed peers, jobs on /api/v1
// and /oapi/v1, Harbor's pre-2.12 preheat API (/_ping, /preheats), and /openapi.json.
#pragma once

#include <string>

#include "dragonfly/manager/config.h"
#include "manager/cluster_ca.h"
#include "manager/http_server.h"
#include "manager/jobs.h"
#include "manager/store.h"
#include "manager/swarm.h"

namespace df::manager {

struct ApiContext {
  Store* store;
  JobRunner* jobs;
  const ManagerConfig* config;
  std::string jwt_key;
  ClusterCa* ca = nullptr;          // with a cluster CA (config ca): its bootstrap-token routes
  SwarmInspector* swarm = nullptr;  // the live swarm view's routes, when set
};

void RegisterApi(HttpRouter& router, ApiContext* ctx);

}  // namespace df::manager
