// A component's certificate from the manager's cluster CA (docs/security.md, "Joining with a
// bootstrap token"): with `security.join`, the scheduler and dfdaemon start a CertificateKeeper
// that joins through the manager's ClusterCa service with the bootstrap token (checking the
// manager against security.caCert) and renews through it with the current certificate.
#pragma once

#include <memory>

#include "dragonfly/common/status.h"
#include "dragonfly/security/cert_keeper.h"
#include "dragonfly/security/identity.h"
#include "dragonfly/security/tls_settings.h"

namespace df::manager {

// Null without settings.join (certificates from files, or none).
StatusOr<std::unique_ptr<security::CertificateKeeper>> KeepClusterCertificate(
    const security::TlsSettings& settings, const security::Identity& identity);

}  // namespace df::manager
