#include "manager/cluster_service.h"

#include <spdlog/spdlog.h>

namespace df::manager {

const char* ComponentTypeName(ComponentType t) {
  switch (t) {
    case ComponentType::kScheduler:
      return "scheduler";
    case ComponentType::kSeedPeer:
      return "seed_peer";
    case ComponentType::kPeer:
      return "peer";
  }
  return "peer";
}

StatusOr<ComponentState> ParseComponentState(const std::string& s) {
  if (s.empty()) {
    return ComponentState::kAny;
  }
  if (s == "active" || s == "inactive") {
    return s == "active" ? ComponentState::kActive : ComponentState::kInactive;
  }
  return InvalidArgument("state must be active or inactive");
}

StatusOr<ClusterRow> ClusterService::Create(const ClusterSpec& spec) {
  if (!spec.name) {
    return InvalidArgument("name is required");
  }
  ClusterRow c;
  c.name = *spec.name;
  c.bio = spec.bio.value_or("");
  c.is_default = spec.is_default.value_or(false);
  c.scopes = spec.scopes.value_or(ClusterScopes{});
  c.config = spec.config.value_or(ClusterConfig{});
  DF_ASSIGN_OR_RETURN(ClusterRow row, store_->CreateCluster(c));
  spdlog::info("cluster {} created name={} default={}", row.id, row.name, row.is_default);
  return row;
}

StatusOr<ClusterRow> ClusterService::Get(int64_t id) { return store_->GetCluster(id); }

StatusOr<std::vector<ClusterRow>> ClusterService::List() { return store_->ListClusters(); }

StatusOr<ClusterRow> ClusterService::Update(int64_t id, const ClusterSpec& patch) {
  DF_ASSIGN_OR_RETURN(ClusterRow row, store_->UpdateCluster(id, patch));
  if (patch.config) {
    const ClusterBlocklist none;
    const ClusterBlocklist& b = row.config.blocklist ? *row.config.blocklist : none;
    spdlog::info(
        "cluster {} config changed version={} blocklist client={}/{}/{} seed_client={}/{}/{} "
        "(applications/urls/tags)",
        row.id, row.config_version, b.client.applications.size(), b.client.urls.size(),
        b.client.tags.size(), b.seed_client.applications.size(), b.seed_client.urls.size(),
        b.seed_client.tags.size());
  }
  return row;
}

Status ClusterService::Delete(int64_t id) {
  DF_ASSIGN_OR_RETURN(ClusterRow row, store_->GetCluster(id));
  if (row.is_default) {
    return FailedPrecondition("cluster " + row.name +
                              " is the default cluster: make another cluster the default first");
  }
  DF_RETURN_IF_ERROR(store_->DeleteCluster(id));
  spdlog::info("cluster {} deleted name={}", id, row.name);
  return Status::Ok();
}

StatusOr<std::vector<ComponentRow>> ClusterService::Components(ComponentType type,
                                                               ComponentState state) {
  const char* s = state == ComponentState::kActive     ? "active"
                  : state == ComponentState::kInactive ? "inactive"
                                                       : "";
  return store_->ListComponents(ComponentTypeName(type), s);
}

Status ClusterService::ForgetInactive(ComponentType type, int64_t id) {
  if (type == ComponentType::kPeer) {
    return InvalidArgument("peers are forgotten when they stop asking for schedulers");
  }
  return store_->DeleteInactiveComponent(ComponentTypeName(type), id);
}

}  // namespace df::manager
