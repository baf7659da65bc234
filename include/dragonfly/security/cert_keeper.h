// Keeps a component's certificate files current (docs/security.md, "Joining with a bootstrap
// token"): at start it makes sure `cert` / `key` hold a certificate for the component's identity
// from the CA in `caCert`, getting one when they do not; then, in the background, it gets a new
// one (with a new key) once two thirds of the current one's life have passed, retrying until it
// succeeds. gRPC re-reads the files (security.reloadInterval), so connections made afterwards
// use the new certificate; nothing restarts.
//
// How a certificate is got is the caller's: `join` when there is no usable certificate (a
// bootstrap token), `renew` while the current one is valid (authenticated by it). Both take the
// new public key (PEM) and return the certificate (PEM).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dragonfly/common/status.h"
#include "dragonfly/security/identity.h"
#include "dragonfly/security/tls_settings.h"

namespace df::security {

class CertificateKeeper {
 public:
  using IssueFn = std::function<StatusOr<std::string>(const std::string& public_key_pem)>;
  struct Options {
    TlsSettings files;  // ca_cert, cert, key
    Identity identity;
    IssueFn join;
    IssueFn renew;
  };

  // Fails when there is no usable certificate and `join` fails (the component cannot start).
  static StatusOr<std::unique_ptr<CertificateKeeper>> Start(Options options);
  ~CertificateKeeper();
  CertificateKeeper(const CertificateKeeper&) = delete;
  CertificateKeeper& operator=(const CertificateKeeper&) = delete;

  // Expiry (Unix seconds) of the certificate in the files.
  int64_t not_after_unix_s() const;

 private:
  explicit CertificateKeeper(Options o) : opts_(std::move(o)) {}
  // The certificate in the files when it is for our identity, from the CA, valid now and
  // matching the key; otherwise why not.
  StatusOr<CertificateInfo> Current() const;
  // A new key and certificate through `fn`, written to the files.
  StatusOr<CertificateInfo> Replace(const IssueFn& fn, const char* how);
  void Loop();

  const Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  CertificateInfo current_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace df::security
