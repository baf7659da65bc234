// Mutual TLS for the gRPC ports that cross hosts (docs/security.md, "Certificates"), configured
// by each component's `security` section (security/tls_settings.h). With certificates, servers
// require a client certificate from the CA and calls can ask who is calling (CallerIdentity);
// clients check the server's certificate and its role. Without, plaintext and a warning.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/security/identity.h"
#include "dragonfly/security/tls_settings.h"

namespace df::rpc {

using security::ReadTlsSettings;
using security::TlsSettings;

// The credentials of one component. Thread-safe; share it.
class Credentials {
 public:
  // `component` names it in the plaintext warning.
  static StatusOr<std::shared_ptr<const Credentials>> Make(const TlsSettings& settings,
                                                           const std::string& component);
  // Plaintext, without a warning (tests and tools).
  static std::shared_ptr<const Credentials> Insecure();

  bool secure() const { return settings_.secure(); }
  // Verifies a client certificate from the CA and requires one, unless `require_client_cert`
  // is false (the manager: a joining host has none yet; every other call checks the caller).
  std::shared_ptr<grpc::ServerCredentials> Server(bool require_client_cert = true) const;
  // Verifies the server's certificate chain and that its identity has one of `server_roles`
  // (the server's address is not checked against the certificate: identities are names, and
  // peers are dialled by IP).
  std::shared_ptr<grpc::ChannelCredentials> Channel(std::vector<security::Role> server_roles) const;
  // A channel to `target` with Channel(server_roles) and `args` (plus, with TLS, the server
  // name every cluster certificate carries, security::kTrustDomain, as the TLS server name).
  std::shared_ptr<grpc::Channel> Dial(const std::string& target,
                                      std::vector<security::Role> server_roles,
                                      grpc::ChannelArguments args = {}) const;

 private:
  explicit Credentials(TlsSettings s) : settings_(std::move(s)) {}
  TlsSettings settings_;
};

// A TLS channel to `target` that checks the server's certificate (from the CA in the file
// `ca_cert`, with one of `server_roles`) but presents none: for joining the cluster CA.
std::shared_ptr<grpc::Channel> DialWithoutCertificate(const std::string& target,
                                                      const std::string& ca_cert,
                                                      std::vector<security::Role> server_roles);

// Who is calling: the identity in the client certificate of a TLS connection. NotFound on a
// plaintext connection; Unauthenticated when the certificate has no identity of this cluster.
StatusOr<security::Identity> CallerIdentity(const grpc::ServerContextBase& ctx);

// On a plaintext server (`secure` false: nobody is authenticated) an empty identity (name ""),
// otherwise the caller's identity when its role is one of `roles`, else PermissionDenied naming it
// (Unauthenticated when the caller presented no certificate).
StatusOr<security::Identity> RequireRole(const grpc::ServerContextBase& ctx, bool secure,
                                         std::initializer_list<security::Role> roles);

}  // namespace df::rpc
