#include "dragonfly/manager/enroll.h"

#include <grpcpp/grpcpp.h>

#include "api/manager.grpc.pb.h"
#include "dragonfly/rpc/status.h"
#include "dragonfly/rpc/tls.h"

namespace df::manager {
namespace {

namespace mgr = ::dragonfly::api::manager;

constexpr auto kCallTimeout = std::chrono::seconds(15);

StatusOr<std::string> Certificate(const grpc::Status& status, const mgr::CertificateResponse& r,
                                  const std::string& manager) {
  if (!status.ok()) {
    return rpc::FromGrpc(status, "manager " + manager);
  }
  return r.certificate();
}

}  // namespace

StatusOr<std::unique_ptr<security::CertificateKeeper>> KeepClusterCertificate(
    const security::TlsSettings& settings, const security::Identity& identity) {
  if (settings.join.manager.empty()) {
    return std::unique_ptr<security::CertificateKeeper>();
  }
  security::CertificateKeeper::Options o;
  o.files = settings;
  o.identity = identity;
  o.join = [settings, identity](const std::string& public_key) -> StatusOr<std::string> {
    auto stub = mgr::ClusterCa::NewStub(rpc::DialWithoutCertificate(
        settings.join.manager, settings.ca_cert, {security::Role::kManager}));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    mgr::JoinRequest req;
    req.set_token(settings.join.token);
    req.set_role(security::RoleName(identity.role));
    req.set_name(identity.name);
    req.set_public_key(public_key);
    mgr::CertificateResponse resp;
    grpc::Status s = stub->Join(&ctx, req, &resp);
    return Certificate(s, resp, settings.join.manager);
  };
  o.renew = [settings](const std::string& public_key) -> StatusOr<std::string> {
    // The current files authenticate this call (a fresh channel reads them as they are now).
    DF_ASSIGN_OR_RETURN(auto creds, rpc::Credentials::Make(settings, "certificate renewal"));
    auto stub =
        mgr::ClusterCa::NewStub(creds->Dial(settings.join.manager, {security::Role::kManager}));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    mgr::RenewRequest req;
    req.set_public_key(public_key);
    mgr::CertificateResponse resp;
    grpc::Status s = stub->Renew(&ctx, req, &resp);
    return Certificate(s, resp, settings.join.manager);
  };
  return security::CertificateKeeper::Start(std::move(o));
}

}  // namespace df::manager
