#include "piece/secure.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "dragonfly/common/net.h"
#include "dragonfly/security/identity.h"

namespace df::piece {
namespace {

using std::chrono::milliseconds;

// The ciphers the kernel offloads (AES-GCM), with the ECDSA keys of the cluster's certificates.
constexpr char kCiphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
constexpr size_t kPumpBuffer = 128 * 1024;  // each way, per user-space TLS connection
constexpr int kSocketPairBuffer = 1 << 20;

std::string OpenSslError(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "unknown error";
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
  }
  return std::string(what) + ": " + buf;
}

// Only daemons and seed peers trade pieces: the leaf must name one (its chain is checked by
// OpenSSL before).
int VerifyRole(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1 || X509_STORE_CTX_get_error_depth(store) > 0) {
    return preverify_ok;
  }
  StatusOr<security::Identity> id = security::IdentityOf(X509_STORE_CTX_get_current_cert(store));
  if (id.ok() && (id->role == security::Role::kDaemon || id->role == security::Role::kSeedPeer)) {
    return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

StatusOr<SslCtxPtr> MakeContext(const security::TlsSettings& s, bool server) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()), SSL_CTX_free);
  if (!ctx) {
    return Internal(OpenSslError("SSL_CTX_new"));
  }
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(
      c, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(c, kCiphers) != 1 ||
      SSL_CTX_use_certificate_chain_file(c, s.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(c, s.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(c) != 1 ||
      SSL_CTX_load_verify_locations(c, s.ca_cert.c_str(), nullptr) != 1) {
    return InvalidArgument(OpenSslError("piece port TLS (security.cert, key, caCert)"));
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyRole);
  return ctx;
}

std::string Stamp(const security::TlsSettings& s) {
  std::string out;
  for (const std::string* f : {&s.cert, &s.key, &s.ca_cert}) {
    struct stat st{};
    if (::stat(f->c_str(), &st) == 0) {
      out += std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ino) + ";";
    }
  }
  return out;
}

// Relays between the link's end of a socketpair (plaintext) and the TLS connection, both
// directions at once, on the network thread. Ends when either side ends.
class Pump : public std::enable_shared_from_this<Pump> {
 public:
  Pump(asio::ip::tcp::socket net, SSL* ssl, asio::local::stream_protocol::socket app)
      : net_(std::move(net)), ssl_(ssl), app_(std::move(app)) {
    // Reads as much of the socket as the buffer takes, not one record at a time (set only now:
    // bytes read ahead during the handshake would stop the kernel taking over).
    SSL_set_read_ahead(ssl_, 1);
  }
  ~Pump() { SSL_free(ssl_); }

  void Start() {
    ReadApp();
    ReadNet();
  }

 private:
  // Link -> TLS.
  void ReadApp() {
    app_.async_read_some(asio::buffer(up_), [self = shared_from_this()](
                                                const boost::system::error_code& ec, size_t n) {
      if (ec) {
        self->Close();
        return;
      }
      self->up_len_ = n;
      self->up_off_ = 0;
      self->WriteNet();
    });
  }

  void WriteNet() {
    while (!closed_ && up_off_ < up_len_) {
      int r = SSL_write(ssl_, up_.data() + up_off_, static_cast<int>(up_len_ - up_off_));
      if (r > 0) {
        up_off_ += static_cast<size_t>(r);
        continue;
      }
      if (!Wait(SSL_get_error(ssl_, r), [](Pump* p) { p->WriteNet(); })) {
        Close();
      }
      return;
    }
    if (!closed_) {
      ReadApp();
    }
  }

  // TLS -> link: decrypts as many records as are in (up to the buffer), then writes them out.
  void ReadNet() {
    if (closed_) {
      return;
    }
    size_t filled = 0;
    int err = SSL_ERROR_NONE;
    while (filled < down_.size()) {
      int r = SSL_read(ssl_, down_.data() + filled, static_cast<int>(down_.size() - filled));
      if (r <= 0) {
        err = SSL_get_error(ssl_, r);
        break;
      }
      filled += static_cast<size_t>(r);
    }
    if (filled == 0) {
      if (!Wait(err, [](Pump* p) { p->ReadNet(); })) {
        Close();  // close_notify, a reset or a bad record
      }
      return;
    }
    asio::async_write(app_, asio::buffer(down_.data(), filled),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->ReadNet();
                      });
  }

  // Waits for the TCP socket as OpenSSL asks, then runs `again`; false for a real error.
  bool Wait(int err, void (*again)(Pump*)) {
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      return false;
    }
    net_.async_wait(
        err == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write,
        [self = shared_from_this(), again](const boost::system::error_code& ec) {
          if (ec) {
            self->Close();
            return;
          }
          again(self.get());
        });
    return true;
  }

  void Close() {
    if (closed_) {
      return;
    }
    closed_ = true;
    boost::system::error_code ec;
    net_.close(ec);
    app_.close(ec);
  }

  asio::ip::tcp::socket net_;
  SSL* const ssl_;
  asio::local::stream_protocol::socket app_;
  std::array<char, kPumpBuffer> up_{};
  size_t up_len_ = 0;
  size_t up_off_ = 0;
  std::array<char, kPumpBuffer> down_{};
  bool closed_ = false;
};

class Handshake : public std::enable_shared_from_this<Handshake> {
 public:
  using Done = std::function<void(StatusOr<asio::ip::tcp::socket>, TlsPath)>;

  Handshake(asio::ip::tcp::socket sock, SslCtxPtr ctx, bool server, Done done)
      : sock_(std::move(sock)),
        ctx_(std::move(ctx)),
        server_(server),
        timer_(sock_.get_executor()),
        done_(std::move(done)) {}
  ~Handshake() { SSL_free(ssl_); }

  void Start(milliseconds timeout) {
    boost::system::error_code ec;
    sock_.non_blocking(true, ec);
    // Control frames (REQUEST, HAVE) must not wait for Nagle: the link's own no_delay is on the
    // socketpair when the bytes go through a pump.
    sock_.set_option(asio::ip::tcp::no_delay(true), ec);
    ssl_ = SSL_new(ctx_.get());
    if (ssl_ == nullptr || SSL_set_fd(ssl_, sock_.native_handle()) != 1) {
      Finish(Internal(OpenSslError("SSL_new")));
      return;
    }
    server_ ? SSL_set_accept_state(ssl_) : SSL_set_connect_state(ssl_);
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e && !self->finished_) {
        self->Finish(DeadlineExceeded("no TLS handshake in time"));
      }
    });
    Step();
  }

 private:
  void Step() {
    if (finished_) {
      return;
    }
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      Secured();
      return;
    }
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      sock_.async_wait(
          err == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read : asio::socket_base::wait_write,
          [self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec) {
              self->Finish(Unavailable("TLS handshake: " + ec.message()));
              return;
            }
            self->Step();
          });
      return;
    }
    long verify = SSL_get_verify_result(ssl_);
    std::string why = verify != X509_V_OK ? std::string("peer certificate: ") +
                                                X509_verify_cert_error_string(verify)
                                          : OpenSslError("TLS handshake");
    Finish(Unauthenticated(why));
  }

  void Secured() {
    if (BIO_get_ktls_send(SSL_get_wbio(ssl_)) && BIO_get_ktls_recv(SSL_get_rbio(ssl_))) {
      // The kernel has the keys: the socket now speaks plaintext to us.
      Finish(std::move(sock_), TlsPath::kKernel);
      return;
    }
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
      Finish(Unavailable(std::string("socketpair: ") + std::strerror(errno)));
      return;
    }
    for (int fd : fds) {
      net::SetBufferSizes(fd, kSocketPairBuffer);
    }
    auto exec = sock_.get_executor();
    asio::local::stream_protocol::socket app(exec);
    asio::ip::tcp::socket link(exec);
    boost::system::error_code ec;
    app.assign(asio::local::stream_protocol(), fds[0], ec);
    if (!ec) {
      // The link only reads, writes and sendfile(2)s its socket: an AF_UNIX one does as well.
      link.assign(asio::ip::tcp::v4(), fds[1], ec);
    } else {
      ::close(fds[1]);
    }
    if (ec) {
      Finish(Internal("socketpair: " + ec.message()));
      return;
    }
    auto pump = std::make_shared<Pump>(std::move(sock_), ssl_, std::move(app));
    ssl_ = nullptr;  // the pump owns it now
    pump->Start();
    Finish(std::move(link), TlsPath::kPump);
  }

  void Finish(StatusOr<asio::ip::tcp::socket> result, TlsPath path = TlsPath::kPump) {
    if (finished_) {
      return;
    }
    finished_ = true;
    timer_.cancel();
    if (!result.ok()) {
      boost::system::error_code ec;
      sock_.close(ec);
    }
    Done done = std::move(done_);
    done(std::move(result), path);
  }

  asio::ip::tcp::socket sock_;
  SslCtxPtr ctx_;
  const bool server_;
  asio::steady_timer timer_;
  Done done_;
  SSL* ssl_ = nullptr;
  bool finished_ = false;
};

}  // namespace

StatusOr<std::shared_ptr<PieceTls>> PieceTls::Make(const security::TlsSettings& settings) {
  std::shared_ptr<PieceTls> t(new PieceTls(settings));
  DF_RETURN_IF_ERROR(t->Load());
  return t;
}

Status PieceTls::Load() {
  const std::string stamp = Stamp(settings_);
  DF_ASSIGN_OR_RETURN(SslCtxPtr server, MakeContext(settings_, true));
  DF_ASSIGN_OR_RETURN(SslCtxPtr client, MakeContext(settings_, false));
  server_ = std::move(server);
  client_ = std::move(client);
  stamp_ = stamp;
  checked_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

std::pair<SslCtxPtr, SslCtxPtr> PieceTls::Current() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - checked_ >= settings_.reload_interval) {
    checked_ = now;
    if (Stamp(settings_) != stamp_) {
      if (Status s = Load(); !s.ok()) {
        spdlog::warn("piece port: keeping the previous certificate: {}", s.ToString());
      } else {
        spdlog::info("piece port: certificate files re-read");
      }
    }
  }
  return {server_, client_};
}

void Secure(asio::ip::tcp::socket sock, SslCtxPtr ctx, bool server, milliseconds timeout,
            std::function<void(StatusOr<asio::ip::tcp::socket>, TlsPath)> done) {
  std::make_shared<Handshake>(std::move(sock), std::move(ctx), server, std::move(done))
      ->Start(timeout);
}

}  // namespace df::piece
