#include "dragonfly/rpc/tls.h"

#include <grpc/support/log.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace df::rpc {
namespace {

// The client's check of the server: its certificate names a cluster identity of a wanted role.
// (The chain to the CA is checked before, by gRPC.)
class RoleVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit RoleVerifier(std::vector<security::Role> roles) : roles_(std::move(roles)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    std::string seen;
    for (const grpc::string_ref& uri : request->uri_names()) {
      StatusOr<security::Identity> id =
          security::ParseSpiffeId(std::string_view(uri.data(), uri.size()));
      if (!id.ok()) {
        continue;
      }
      if (std::find(roles_.begin(), roles_.end(), id->role) != roles_.end()) {
        *sync_status = grpc::Status::OK;
        return true;
      }
      seen = id->SpiffeId();
    }
    *sync_status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                     seen.empty() ? "the server's certificate has no cluster identity"
                                  : "the server is " + seen + ", not of the role wanted");
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::vector<security::Role> roles_;
};

std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider(const TlsSettings& s) {
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      s.key, s.cert, s.ca_cert,
      static_cast<unsigned>(std::max<int64_t>(1, s.reload_interval.count())));
}

// gRPC's log, as gRPC writes it, without one message: a server whose client dialled an IP
// address logs, for every TLS connection, that the SNI (the address) names none of its
// certificates; ours are identities, not addresses (see Dial), so that is expected.
void GrpcLog(gpr_log_func_args* args) {
  if (std::strncmp(args->message, "No match found for server name", 30) == 0) {
    return;
  }
  std::fprintf(stderr, "%s %s:%d] %s\n", gpr_log_severity_string(args->severity), args->file,
               args->line, args->message);
}

}  // namespace

StatusOr<std::shared_ptr<const Credentials>> Credentials::Make(const TlsSettings& settings,
                                                               const std::string& component) {
  static std::once_flag log_once;
  std::call_once(log_once, [] { gpr_set_log_function(GrpcLog); });
  if (!settings.secure()) {
    spdlog::warn(
        "{}: plaintext gRPC without authentication ({}); set security.caCert, cert and key to "
        "authenticate the cluster's hosts (docs/security.md)",
        component, settings.insecure ? "security.insecure" : "no certificates configured");
  }
  return std::shared_ptr<const Credentials>(new Credentials(settings));
}

std::shared_ptr<const Credentials> Credentials::Insecure() {
  TlsSettings s;
  s.insecure = true;
  return std::shared_ptr<const Credentials>(new Credentials(s));
}

std::shared_ptr<grpc::ServerCredentials> Credentials::Server(bool require_client_cert) const {
  if (!secure()) {
    return grpc::InsecureServerCredentials();
  }
  grpc::experimental::TlsServerCredentialsOptions o(Provider(settings_));
  o.watch_root_certs();
  o.watch_identity_key_cert_pairs();
  o.set_cert_request_type(require_client_cert
                              ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(o);
}

namespace {

// TLS that checks the server's chain (from `provider`'s roots) and role, presenting the
// provider's certificate when `with_identity`.
std::shared_ptr<grpc::ChannelCredentials> TlsChannel(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider, bool with_identity,
    std::vector<security::Role> server_roles) {
  grpc::experimental::TlsChannelCredentialsOptions o;
  o.set_certificate_provider(std::move(provider));
  o.watch_root_certs();
  if (with_identity) {
    o.watch_identity_key_cert_pairs();
  }
  o.set_verify_server_certs(true);
  o.set_check_call_host(false);
  o.set_certificate_verifier(grpc::experimental::ExternalCertificateVerifier::Create<RoleVerifier>(
      std::move(server_roles)));
  return grpc::experimental::TlsCredentials(o);
}

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> Credentials::Channel(
    std::vector<security::Role> server_roles) const {
  if (!secure()) {
    return grpc::InsecureChannelCredentials();
  }
  return TlsChannel(Provider(settings_), true, std::move(server_roles));
}

std::shared_ptr<grpc::Channel> Credentials::Dial(const std::string& target,
                                                 std::vector<security::Role> server_roles,
                                                 grpc::ChannelArguments args) const {
  if (secure()) {
    args.SetSslTargetNameOverride(security::kTrustDomain);
  }
  return grpc::CreateCustomChannel(target, Channel(std::move(server_roles)), args);
}

std::shared_ptr<grpc::Channel> DialWithoutCertificate(const std::string& target,
                                                      const std::string& ca_cert,
                                                      std::vector<security::Role> server_roles) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(security::kTrustDomain);
  return grpc::CreateCustomChannel(
      target,
      TlsChannel(std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(ca_cert, 60),
                 false, std::move(server_roles)),
      args);
}

StatusOr<security::Identity> CallerIdentity(const grpc::ServerContextBase& ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) {
    return NotFound("the caller is not authenticated (plaintext)");
  }
  for (const grpc::string_ref& uri : auth->FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    StatusOr<security::Identity> id =
        security::ParseSpiffeId(std::string_view(uri.data(), uri.size()));
    if (id.ok()) {
      return id;
    }
  }
  return Unauthenticated("the caller's certificate has no identity of this cluster");
}

StatusOr<security::Identity> RequireRole(const grpc::ServerContextBase& ctx, bool secure,
                                         std::initializer_list<security::Role> roles) {
  if (!secure) {
    return security::Identity{security::Role::kDaemon, ""};
  }
  StatusOr<security::Identity> caller = CallerIdentity(ctx);
  if (!caller.ok()) {
    return caller.status().code() == StatusCode::kNotFound
               ? Unauthenticated("this call needs a client certificate of the cluster")
               : caller.status();
  }
  security::Identity id = std::move(caller).value();
  if (std::find(roles.begin(), roles.end(), id.role) == roles.end()) {
    return PermissionDenied(id.SpiffeId() + " may not call this");
  }
  return id;
}

}  // namespace df::rpc
