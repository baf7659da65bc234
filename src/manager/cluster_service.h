// Clusters and the components the manager knows in them, over the Store: the rules the REST
// handlers (clusters_api.cc) rely on, typed. Thread-safe (the Store is).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "manager/cluster_model.h"
#include "manager/store.h"

namespace df::manager {

enum class ComponentType { kScheduler, kSeedPeer, kPeer };
const char* ComponentTypeName(ComponentType t);  // the store's and the API's "seed_peer", ...

enum class ComponentState { kAny, kActive, kInactive };
// "" = any, "active", "inactive"; InvalidArgument otherwise.
StatusOr<ComponentState> ParseComponentState(const std::string& s);

class ClusterService {
 public:
  explicit ClusterService(Store* store) : store_(store) {}

  // `spec.name` is required; the rest defaults (not the default cluster, no scopes, the
  // schedulers' own settings, nothing blocked).
  StatusOr<ClusterRow> Create(const ClusterSpec& spec);
  StatusOr<ClusterRow> Get(int64_t id);
  StatusOr<std::vector<ClusterRow>> List();
  // Changes what `patch` gives. A config change reaches the cluster's schedulers on their next
  // keepalive answer (within the keepalive interval).
  StatusOr<ClusterRow> Update(int64_t id, const ClusterSpec& patch);
  // FailedPrecondition for the default cluster (daemons no scope matches are sent there: make
  // another cluster the default first).
  Status Delete(int64_t id);

  StatusOr<std::vector<ComponentRow>> Components(ComponentType type, ComponentState state);
  // Forgets an inactive scheduler or seed peer (FailedPrecondition while it is active).
  Status ForgetInactive(ComponentType type, int64_t id);

 private:
  Store* store_;
};

}  // namespace df::manager
