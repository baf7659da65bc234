// Component identities and the cluster CA (docs/security.md, "Certificates").
//
// Every component that crosses hosts holds an X.509 certificate issued by the cluster CA whose
// one URI SAN is its identity: spiffe://dragonfly/<role>/<name>, with <name> the host name (a
// daemon or seed peer: the `host.hostname` it announces) or the component's name. The role says
// what it may do: only a seed-peer certificate announces a seed host, only a scheduler triggers a
// seed, only the manager runs jobs on daemons. Every certificate also has the DNS SAN
// kTrustDomain, the TLS server name clients ask for. Keys are ECDSA P-256, PEM files 0600.
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::security {

enum class Role { kScheduler, kSeedPeer, kDaemon, kManager };

inline constexpr char kTrustDomain[] = "dragonfly";

const char* RoleName(Role role);  // "scheduler", "seed-peer", "daemon", "manager"
StatusOr<Role> ParseRole(std::string_view name);

struct Identity {
  Role role = Role::kDaemon;
  std::string name;  // [A-Za-z0-9._-], 1..253 bytes

  std::string SpiffeId() const;  // spiffe://dragonfly/<role>/<name>
  bool operator==(const Identity&) const = default;
};

// Parses spiffe://dragonfly/<role>/<name>; InvalidArgument otherwise.
StatusOr<Identity> ParseSpiffeId(std::string_view uri);

// A private key and its certificate, PEM.
struct KeyPair {
  std::string key_pem;
  std::string cert_pem;
};

// A self-signed CA certificate for `common_name`, valid `ttl`.
StatusOr<KeyPair> MakeCa(const std::string& common_name, std::chrono::seconds ttl);

// A new private key (ECDSA P-256, PEM), and the public key (PEM) of a private key.
StatusOr<std::string> MakePrivateKey();
StatusOr<std::string> PublicKeyOf(std::string_view key_pem);

// A certificate (PEM) for `id` with the public key `public_key_pem` (ECDSA P-256: the private key
// stays with its holder), signed by `ca`, valid for `ttl` (from kCertBackdate ago), for both TLS
// client and server use; `hosts` (DNS names or IP literals) become extra SANs.
StatusOr<std::string> IssueForKey(const KeyPair& ca, const Identity& id,
                                  std::string_view public_key_pem, std::chrono::seconds ttl,
                                  const std::vector<std::string>& hosts = {});

// A new key and IssueForKey for it.
StatusOr<KeyPair> IssueCertificate(const KeyPair& ca, const Identity& id, std::chrono::seconds ttl,
                                   const std::vector<std::string>& hosts = {});

// The identity in a PEM certificate's URI SAN, and its validity (Unix seconds).
struct CertificateInfo {
  Identity identity;
  int64_t not_before_unix_s = 0;
  int64_t not_after_unix_s = 0;
};
StatusOr<CertificateInfo> InspectCertificate(std::string_view cert_pem);
// The identity in a parsed certificate's URI SAN (for OpenSSL verify callbacks).
StatusOr<Identity> IdentityOf(const X509* cert);

// Ok when `cert_pem` was issued by `ca_pem` and is valid now; InvalidArgument saying why not.
Status CheckIssuedBy(std::string_view cert_pem, std::string_view ca_pem);

// Ok when the private key `key_pem` belongs to the certificate `cert_pem`.
Status CheckKeyMatches(std::string_view key_pem, std::string_view cert_pem);

// Writes `data` to `path` with mode 0600 (atomically: a temp file renamed over it).
Status WriteSecretFile(const std::string& path, std::string_view data);

}  // namespace df::security
