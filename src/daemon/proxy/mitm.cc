#include "daemon/proxy/mitm.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <vector>

#include "dragonfly/common/net.h"
#include "dragonfly/security/x509.h"

namespace df::daemon::proxy {
namespace {

using security::MakeCert;
using std::chrono::hours;

std::string SslError(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
  }
  ERR_clear_error();
  return what + ": " + buf;
}

EVP_PKEY* NewEcKey() { return EVP_EC_gen("P-256"); }

Status WritePem(const std::string& path, mode_t mode, const std::function<int(FILE*)>& write) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return ErrnoError("create " + path, errno);
  }
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    return ErrnoError("fdopen " + path, errno);
  }
  bool ok = write(f) == 1;
  ok = (::fclose(f) == 0) && ok;
  if (!ok) {
    ::unlink(path.c_str());
    return Internal(SslError("write " + path));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<CertAuthority>> CertAuthority::LoadOrCreate(const std::string& cert_path,
                                                                     const std::string& key_path,
                                                                     bool create) {
  std::unique_ptr<CertAuthority> ca(new CertAuthority());
  bool have_cert = std::filesystem::exists(cert_path);
  bool have_key = std::filesystem::exists(key_path);
  if (!have_cert && !have_key && create) {
    ca->ca_key_ = NewEcKey();
    if (ca->ca_key_ == nullptr) {
      return Internal(SslError("generate CA key"));
    }
    char host[256] = "localhost";
    ::gethostname(host, sizeof(host) - 1);
    ca->ca_cert_ = MakeCert(std::string("Dragonfly dfdaemon proxy CA (") + host + ")", ca->ca_key_,
                            nullptr, ca->ca_key_, hours(24 * 3650),
                            {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                             {NID_key_usage, "critical,keyCertSign,cRLSign"},
                             {NID_subject_key_identifier, "hash"}});
    if (ca->ca_cert_ == nullptr) {
      return Internal(SslError("generate CA certificate"));
    }
    // Key first: a cert without its key is useless, a key alone is regenerated next time.
    DF_RETURN_IF_ERROR(WritePem(key_path, 0600, [&](FILE* f) {
      return PEM_write_PrivateKey(f, ca->ca_key_, nullptr, nullptr, 0, nullptr, nullptr);
    }));
    DF_RETURN_IF_ERROR(
        WritePem(cert_path, 0644, [&](FILE* f) { return PEM_write_X509(f, ca->ca_cert_); }));
  } else {
    if (!have_cert || !have_key) {
      return NotFound("HTTPS interception CA: " + (have_cert ? key_path : cert_path) +
                      " does not exist");
    }
    FILE* f = ::fopen(cert_path.c_str(), "re");
    if (f == nullptr) {
      return ErrnoError("open " + cert_path, errno);
    }
    ca->ca_cert_ = PEM_read_X509(f, nullptr, nullptr, nullptr);
    ::fclose(f);
    f = ::fopen(key_path.c_str(), "re");
    if (f == nullptr) {
      return ErrnoError("open " + key_path, errno);
    }
    ca->ca_key_ = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    ::fclose(f);
    if (ca->ca_cert_ == nullptr || ca->ca_key_ == nullptr) {
      return InvalidArgument(SslError("HTTPS interception CA " + cert_path + " / " + key_path));
    }
    if (X509_check_private_key(ca->ca_cert_, ca->ca_key_) != 1) {
      return InvalidArgument("HTTPS interception CA: " + key_path + " is not the key of " +
                             cert_path);
    }
    if (X509_check_ca(ca->ca_cert_) == 0) {
      return InvalidArgument("HTTPS interception CA: " + cert_path + " is not a CA certificate");
    }
  }
  ca->leaf_key_ = NewEcKey();
  if (ca->leaf_key_ == nullptr) {
    return Internal(SslError("generate leaf key"));
  }
  return ca;
}

CertAuthority::~CertAuthority() {
  contexts_.clear();
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
  EVP_PKEY_free(leaf_key_);
}

StatusOr<std::shared_ptr<SSL_CTX>> CertAuthority::ServerContext(const std::string& host) {
  constexpr int64_t kRemakeAfterS = 30 * 86400;
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  std::lock_guard lock(mu_);
  if (auto it = contexts_.find(host); it != contexts_.end()) {
    if (now - it->second.made_at_s < kRemakeAfterS) {
      return it->second.ctx;
    }
    contexts_.erase(it);
  }
  if (contexts_.size() >= kMaxContexts) {
    contexts_.clear();  // connections in flight keep theirs (shared_ptr)
  }
  in6_addr addr{};
  std::string bare =
      host.size() > 2 && host.front() == '[' ? host.substr(1, host.size() - 2) : host;
  bool ip = ::inet_pton(AF_INET, bare.c_str(), &addr) == 1 ||
            ::inet_pton(AF_INET6, bare.c_str(), &addr) == 1;
  // The CN is at most 64 characters (RFC 5280); clients match the SAN, which has the full name.
  X509* leaf = MakeCert(bare.substr(0, 64), leaf_key_, ca_cert_, ca_key_, hours(24 * 397),
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth"},
                         {NID_subject_alt_name, (ip ? "IP:" : "DNS:") + bare},
                         {NID_authority_key_identifier, "keyid"}});
  if (leaf == nullptr) {
    return Internal(SslError("make certificate for " + bare));
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  bool ok = ctx != nullptr && SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 &&
            SSL_CTX_use_certificate(ctx, leaf) == 1 &&
            SSL_CTX_use_PrivateKey(ctx, leaf_key_) == 1 &&
            SSL_CTX_add1_chain_cert(ctx, ca_cert_) == 1;
  X509_free(leaf);
  if (!ok) {
    SSL_CTX_free(ctx);
    return Internal(SslError("TLS context for " + bare));
  }
  // HTTP/1.1 only inside the tunnel: no ALPN answer, so clients do not pick h2.
  std::shared_ptr<SSL_CTX> shared(ctx, SSL_CTX_free);
  contexts_[host] = Entry{shared, now};
  return shared;
}

Status RunTlsBridge(SSL_CTX* ctx, int client_fd, int plain_fd, int idle_ms) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr || SSL_set_fd(ssl, client_fd) != 1) {
    SSL_free(ssl);
    return Internal(SslError("SSL_new"));
  }
  Status result;
  if (SSL_accept(ssl) != 1) {
    result = Unavailable(SslError("TLS handshake with the client"));
  }
  char buf[64 * 1024];
  while (result.ok()) {
    // Records already decrypted are not visible to poll(): drain them first.
    if (SSL_pending(ssl) == 0) {
      pollfd p[2] = {{client_fd, POLLIN, 0}, {plain_fd, POLLIN, 0}};
      int n = ::poll(p, 2, idle_ms);
      if (n == 0) {
        result = DeadlineExceeded("intercepted connection idle");
        break;
      }
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        result = ErrnoError("poll", errno);
        break;
      }
      if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        ssize_t got = ::recv(plain_fd, buf, sizeof(buf), 0);
        if (got <= 0) {
          break;  // the proxy closed its side: end the TLS session
        }
        if (SSL_write(ssl, buf, static_cast<int>(got)) <= 0) {
          result = Unavailable(SslError("TLS write to the client"));
          break;
        }
      }
      if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
    }
    int got = SSL_read(ssl, buf, sizeof(buf));
    if (got <= 0) {
      int err = SSL_get_error(ssl, got);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        continue;
      }
      if (err != SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
      }
      ::shutdown(plain_fd, SHUT_WR);  // the client is done sending
      // Relay what the proxy still has to say, then stop.
      while (true) {
        ssize_t n = ::recv(plain_fd, buf, sizeof(buf), 0);
        if (n <= 0 || SSL_write(ssl, buf, static_cast<int>(n)) <= 0) {
          break;
        }
      }
      SSL_free(ssl);
      return Status::Ok();
    }
    if (!net::WriteAll(plain_fd, buf, static_cast<size_t>(got)).ok()) {
      break;
    }
  }
  if (result.ok()) {
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ERR_clear_error();
  return result;
}

}  // namespace df::daemon::proxy
