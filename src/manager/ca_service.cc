#include "manager/ca_service.h"

#include <spdlog/spdlog.h>

#include "dragonfly/rpc/status.h"
#include "dragonfly/rpc/tls.h"

namespace df::manager {

namespace mgr = dragonfly::api::manager;

namespace {

constexpr size_t kMaxPublicKey = 4096;

}  // namespace

grpc::Status ClusterCaService::Join(grpc::ServerContext* context, const mgr::JoinRequest* req,
                                    mgr::CertificateResponse* resp) {
  StatusOr<security::Role> role = security::ParseRole(req->role());
  if (!role.ok() || req->public_key().size() > kMaxPublicKey) {
    return {grpc::StatusCode::INVALID_ARGUMENT,
            !role.ok() ? role.status().message() : "public_key is too large"};
  }
  StatusOr<std::string> cert =
      ca_->Join(req->token(), {*role, req->name()}, req->public_key(), context->peer());
  if (!cert.ok()) {
    return rpc::ToGrpc(cert.status());
  }
  resp->set_certificate(*cert);
  resp->set_ca_certificate(ca_->ca_cert_pem());
  return grpc::Status::OK;
}

grpc::Status ClusterCaService::Renew(grpc::ServerContext* context, const mgr::RenewRequest* req,
                                     mgr::CertificateResponse* resp) {
  StatusOr<security::Identity> caller = rpc::CallerIdentity(*context);
  if (!caller.ok()) {
    spdlog::warn("manager: renewal refused from {}: {}", context->peer(),
                 caller.status().message());
    return {grpc::StatusCode::UNAUTHENTICATED,
            "renewal needs the current certificate (join with a bootstrap token first)"};
  }
  if (req->public_key().size() > kMaxPublicKey) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "public_key is too large"};
  }
  StatusOr<std::string> cert = ca_->Issue(*caller, req->public_key());
  if (!cert.ok()) {
    return rpc::ToGrpc(cert.status());
  }
  spdlog::info("manager: renewed the certificate of {}", caller->SpiffeId());
  resp->set_certificate(*cert);
  resp->set_ca_certificate(ca_->ca_cert_pem());
  return grpc::Status::OK;
}

}  // namespace df::manager
