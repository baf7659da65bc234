// TLS on the piece port (docs/security.md, "The piece port"). Internal to df_piece.
//
// With certificates, every piece connection is mutually authenticated TLS: both ends present a
// certificate of the cluster CA with the role daemon or seed-peer. The engine runs the handshake
// on its network thread (non-blocking, bounded by a deadline) and then gives the link a socket
// that speaks plaintext:
//   - with kernel TLS (the `tls` module; OpenSSL offloads TLS 1.2 in both directions, which is
//     why the piece port negotiates TLS 1.2 with ECDHE-ECDSA and AES-GCM), the TCP socket itself:
//     the kernel encrypts what the link writes, sendfile(2) included, and decrypts what it reads;
//   - otherwise one end of a socketpair whose other end a Pump relays through OpenSSL on the same
//     thread (two more copies and the cipher in user space: the price shows on
//     bench/dataplane.py).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "dragonfly/common/status.h"
#include "dragonfly/security/tls_settings.h"

namespace df::piece {

namespace asio = boost::asio;

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

// The TLS contexts of a piece server, re-made from the files when they change (checked at most
// every reloadInterval), so a renewed certificate is used for new connections. Thread-safe.
class PieceTls {
 public:
  static StatusOr<std::shared_ptr<PieceTls>> Make(const security::TlsSettings& settings);

  SslCtxPtr server() { return Current().first; }
  SslCtxPtr client() { return Current().second; }

 private:
  explicit PieceTls(security::TlsSettings s) : settings_(std::move(s)) {}
  Status Load();
  std::pair<SslCtxPtr, SslCtxPtr> Current();

  const security::TlsSettings settings_;
  std::mutex mu_;
  SslCtxPtr server_;
  SslCtxPtr client_;
  std::string stamp_;  // sizes and mtimes of the files the contexts were made from
  std::chrono::steady_clock::time_point checked_;
};

// How the secured connection carries bytes (for logs and tests).
enum class TlsPath { kKernel, kPump };

// Runs the handshake on `sock` (its executor's thread), then calls `done` with the plaintext
// socket, or with why the handshake failed (including no handshake within `timeout`).
void Secure(asio::ip::tcp::socket sock, SslCtxPtr ctx, bool server,
            std::chrono::milliseconds timeout,
            std::function<void(StatusOr<asio::ip::tcp::socket>, TlsPath)> done);

}  // namespace df::piece
