// REST routes of the cluster CA (root only; docs/security.md, "Joining with a bootstrap token"):
//   POST   /api/v1/bootstrap-tokens      {"role", "name"?, "ttl"?, "description"?} -> the token
//   GET    /api/v1/bootstrap-tokens      the tokens, without their secrets
//   DELETE /api/v1/bootstrap-tokens/:id
//   GET    /api/v1/cluster-ca            {"certificate": the CA's PEM}, for security.caCert
#pragma once

#include "manager/api_routes.h"
#include "manager/cluster_ca.h"
#include "manager/http_server.h"

namespace df::manager {

void AddClusterCaRoutes(ApiRoutes& routes, ClusterCa* ca);

}  // namespace df::manager
