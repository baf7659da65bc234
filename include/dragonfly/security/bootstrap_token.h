// Bootstrap tokens (docs/security.md, "Joining with a bootstrap token"): how a host that has no
// certificate yet proves to the manager that it may join the cluster, in kubeadm's format
// "<id>.<secret>" (6 and 16 characters of [a-z0-9]). The manager keeps the ID and a hash of the
// secret; the ID names the token in lists and logs, the secret never appears.
#pragma once

#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::security {

struct BootstrapToken {
  std::string id;      // 6 of [a-z0-9]
  std::string secret;  // 16 of [a-z0-9]

  std::string ToString() const { return id + "." + secret; }
  std::string SecretHash() const;  // hex SHA-256 of the secret
};

// InvalidArgument (without echoing the input: it is a secret) unless `text` has the format.
StatusOr<BootstrapToken> ParseBootstrapToken(std::string_view text);
// A new random token.
BootstrapToken MakeBootstrapToken();

}  // namespace df::security
