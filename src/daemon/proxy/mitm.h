// Opt-in HTTPS interception for the proxy (proxy.hijackHTTPS): a CONNECT to a host matching one
// of the configured regexes is answered by the dfdaemon itself with a leaf certificate for that
// host, signed by a CA that the user installs in the clients' trust store. The CA comes from
// config (cert + key PEM) or is generated at first start and kept in the daemon's data dir.
//
// RunTlsBridge turns the client's TLS connection into plaintext on a socketpair, so the proxy's
// ordinary HTTP code (P2P, forwarding, sendfile) serves the requests inside the tunnel.
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dragonfly/common/status.h"

namespace df::daemon::proxy {

class CertAuthority {
 public:
  // Loads the CA from `cert_path`/`key_path`. When both files are missing and `create` is set,
  // generates a CA (EC P-256, 10 years) and writes them (the key 0600).
  static StatusOr<std::unique_ptr<CertAuthority>> LoadOrCreate(const std::string& cert_path,
                                                               const std::string& key_path,
                                                               bool create);
  ~CertAuthority();
  CertAuthority(const CertAuthority&) = delete;
  CertAuthority& operator=(const CertAuthority&) = delete;

  // A server context presenting a leaf certificate for `host` (DNS name or IP address), made
  // on first use and cached (at most kMaxContexts hosts; leaves are re-made after 30 days,
  // well before they expire). Thread-safe; the returned reference keeps the context alive.
  StatusOr<std::shared_ptr<SSL_CTX>> ServerContext(const std::string& host);
  static constexpr size_t kMaxContexts = 1024;

 private:
  CertAuthority() = default;

  X509* ca_cert_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
  EVP_PKEY* leaf_key_ = nullptr;  // one key for every leaf
  std::mutex mu_;
  struct Entry {
    std::shared_ptr<SSL_CTX> ctx;
    int64_t made_at_s = 0;
  };
  std::map<std::string, Entry> contexts_;
};

// Terminates TLS from `client_fd` with `ctx` and relays the plaintext both ways to `plain_fd`
// until either side closes or stays silent for `idle_ms`. Blocking; returns when done (without
// closing either fd). Returns the handshake or I/O error that ended it, OK on a clean close.
Status RunTlsBridge(SSL_CTX* ctx, int client_fd, int plain_fd, int idle_ms);

}  // namespace df::daemon::proxy
