// The manager's REST metrics: dragonfly_manager_requests_total{code,method} and
// dragonfly_manager_request_duration_seconds{method}, fed by the router's observer.
#pragma once

#include <prometheus/registry.h>

#include "manager/http_server.h"

namespace df::manager {

// Registers the families on `registry` (which must outlive the observer) and returns the
// router observer that counts each request.
HttpRouter::Observer RestMetrics(prometheus::Registry& registry);

}  // namespace df::manager
