// The TLS settings of a component (docs/security.md, "Certificates"): every component's YAML
// has a `security` section
//
//   security:
//     caCert: /etc/dragonfly/ca.crt   # the cluster CA: peers' certificates must chain to it
//     cert: /etc/dragonfly/tls.crt    # this component's certificate (its identity, a URI SAN)
//     key: /etc/dragonfly/tls.key
//     insecure: false                 # true: plaintext, no authentication (tests, one host)
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

struct TlsSettings {
  std::string ca_cert;
  std::string cert;
  std::string key;
  bool insecure = false;
  std::chrono::seconds reload_interval{30};

  bool secure() const { return !cert.empty(); }
};

// Reads the `security` section (null node: defaults) and checks the files: all three or none,
// readable, a certificate with an identity that chains to the CA, not together with insecure.
Status ReadTlsSettings(const YAML::Node& section, TlsSettings* out);

// Secure by default: FailedPrecondition naming the setting when one of `listens` (config key,
// "host:port") is reachable from other hosts (not a loopback address or "localhost") while
// neither certificates nor `insecure: true` are configured.
Status CheckExposure(const TlsSettings& settings,
                     const std::vector<std::pair<std::string, std::string>>& listens);

}  // namespace df::security
