// The TLS settings of a component (docs/security.md, "Certificates"): every component's YAML
// has a `security` section
//
//   security:
//     caCert: /etc/dragonfly/ca.crt   # the cluster CA: peers' certificates must chain to it
//     cert: /etc/dragonfly/tls.crt    # this component's certificate (its identity, a URI SAN)
//     key: /etc/dragonfly/tls.key
//     insecure: false                 # true: plaintext, no authentication (tests, one host)
//     join:                           # get cert and key from the manager's cluster CA
//       manager: 10.0.0.1:65003       #   its gRPC address
//       token: abcdef.0123456789abcdef  # a bootstrap token (or tokenFile: a file holding one)
//
// With `join`, cert and key are where the certificate the manager issues is kept (written at the
// first start, renewed before it expires); caCert is the manager's CA, copied out of band.
//
// With certificates, servers require a client certificate from the CA and calls can ask who is
// calling (CallerIdentity); clients check the server's certificate and its role. Files are
// re-read every `reloadInterval` (30 s), so a renewed certificate is used without a restart.
// Without certificates the component speaks plaintext and logs a warning.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "dragonfly/common/status.h"

namespace YAML {
class Node;
}

namespace df::security {

// Joining the manager's cluster CA with a bootstrap token (manager/enroll.h).
struct JoinSettings {
  std::string manager;  // "host:port" of the manager's gRPC port; empty: no join
  std::string token;    // "<id>.<secret>"
  bool operator==(const JoinSettings&) const = default;
};

struct TlsSettings {
  JoinSettings join;
  std::string ca_cert;
  std::string cert;
  std::string key;
  bool insecure = false;
  std::chrono::seconds reload_interval{30};

  bool secure() const { return !cert.empty(); }
  bool operator==(const TlsSettings&) const = default;
};

// Reads the `security` section (null node: defaults) and checks the files: all three or none,
// readable, a certificate with an identity that chains to the CA, not together with insecure.
// With `join`, the certificate and key need not exist yet (the join writes them).
Status ReadTlsSettings(const YAML::Node& section, TlsSettings* out);

// Secure by default: FailedPrecondition naming the setting when one of `listens` (config key,
// "host:port") is reachable from other hosts (not a loopback address or "localhost") while
// neither certificates nor `insecure: true` are configured.
Status CheckExposure(const TlsSettings& settings,
                     const std::vector<std::pair<std::string, std::string>>& listens);

}  // namespace df::security
