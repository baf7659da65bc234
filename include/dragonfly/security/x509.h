// Building X.509 certificates (OpenSSL), shared by the cluster CA (identity.h) and the proxy's
// HTTPS-interception CA (daemon/proxy/mitm.h).
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace df::security {

// How long before its issue a certificate is valid (clocks of hosts differ).
inline constexpr std::chrono::seconds kCertBackdate{3600};

// A certificate for `subject_cn` (O=Dragonfly) with `pubkey`, signed by `issuer_key` (self-signed
// when `issuer` is null), valid from kCertBackdate ago until `ttl` from now, with a random serial.
// `exts` are (nid, value) pairs in OpenSSL's config syntax. Null on failure (OpenSSL's error queue
// says why); the caller frees it.
X509* MakeCert(const std::string& subject_cn, EVP_PKEY* pubkey, X509* issuer, EVP_PKEY* issuer_key,
               std::chrono::seconds ttl, const std::vector<std::pair<int, std::string>>& exts);

}  // namespace df::security
