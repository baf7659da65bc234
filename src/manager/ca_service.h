// The manager's ClusterCa gRPC service (api/manager.proto): Join with a bootstrap token, Renew
// with the current certificate. See cluster_ca.h.
#pragma once

#include "api/manager.grpc.pb.h"
#include "manager/cluster_ca.h"

namespace df::manager {

class ClusterCaService final : public dragonfly::api::manager::ClusterCa::Service {
 public:
  explicit ClusterCaService(ClusterCa* ca) : ca_(ca) {}

  grpc::Status Join(grpc::ServerContext* context, const dragonfly::api::manager::JoinRequest* req,
                    dragonfly::api::manager::CertificateResponse* resp) override;
  grpc::Status Renew(grpc::ServerContext* context, const dragonfly::api::manager::RenewRequest* req,
                     dragonfly::api::manager::CertificateResponse* resp) override;

 private:
  ClusterCa* const ca_;
};

}  // namespace df::manager
