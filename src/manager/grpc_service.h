// The manager's gRPC service: schedulers and seed peers keep a KeepAlive stream (active while
// it is open and talking, inactive when it breaks or goes silent), schedulers get their
// cluster's config on it; daemons ask which schedulers to use (ListSchedulers), answered by
// scoring clusters against the daemon's IP (CIDRs), hostname (regexes), IDC and location.
#pragma once

#include <memory>
#include <string>

#include "api/manager.grpc.pb.h"
#include "dragonfly/manager/config.h"
#include "dragonfly/rpc/tls.h"
#include "manager/store.h"

namespace df::manager {

namespace mgr = dragonfly::api::manager;

// How well a cluster's scopes match a host; higher is better, 0 = no match. A default cluster
// matches everything with the lowest positive score.
int ScoreCluster(const ClusterRow& cluster, const std::string& ip, const std::string& hostname,
                 const std::string& idc, const std::string& location);

// With TLS (`secure`), a scheduler keeps alive only with a scheduler certificate, a seed peer
// with a seed-peer one, each under the host name in its certificate; every caller needs a
// certificate of the cluster.
class ManagerService final : public mgr::Manager::Service {
 public:
  ManagerService(Store* store, const ManagerConfig& config, bool secure)
      : store_(store), config_(config), secure_(secure) {}

  grpc::Status KeepAlive(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<mgr::KeepAliveResponse, mgr::KeepAliveRequest>* stream) override;
  grpc::Status ListSchedulers(grpc::ServerContext* context,
                              const mgr::ListSchedulersRequest* request,
                              mgr::ListSchedulersResponse* response) override;

 private:
  // With auth.componentToken set: the call must carry it (kComponentTokenHeader). With TLS, the
  // caller's certificate must have one of `roles`; its identity goes to `caller`.
  grpc::Status Authorize(const grpc::ServerContext* context,
                         std::initializer_list<security::Role> roles,
                         security::Identity* caller) const;
  // Records (or refreshes) the asking daemon as a peer of cluster `cluster_id` (0: none matched).
  void RecordPeer(const mgr::ListSchedulersRequest& request, int64_t cluster_id);

  Store* store_;
  const ManagerConfig& config_;
  const bool secure_;
};

}  // namespace df::manager
