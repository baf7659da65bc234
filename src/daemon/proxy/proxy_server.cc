#include "daemon/proxy/proxy_server.h"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <filesystem>
#include <regex>
#include <thread>

#include "daemon/metrics.h"
#include "daemon/proxy/mitm.h"
#include "daemon/proxy/p2p.h"
#include "daemon/proxy/upstream.h"
#include "dragonfly/common/acceptor.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/url.h"

namespace df::daemon::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

constexpr uint32_t kHeaderLimit = 64 * 1024;

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "host:port" with the port always explicit: how the allow-list compares destinations.
std::string Destination(const Url& u) {
  return u.host + ":" + std::to_string(u.port != 0 ? u.port : u.scheme == "https" ? 443 : 80);
}

// host[:port] with the characters a registry name may have.
bool ValidAuthority(std::string_view a) {
  return !a.empty() && a.size() < 256 &&
         a.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_") ==
             std::string_view::npos;
}

// "http(s)://host[:port]" without a path.
bool ValidBaseUrl(std::string_view u) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (u.substr(0, scheme.size()) == scheme) {
      std::string_view rest = u.substr(scheme.size());
      while (!rest.empty() && rest.back() == '/') {
        rest.remove_suffix(1);
      }
      return ValidAuthority(rest);
    }
  }
  return false;
}

class Server;

class Connection {
 public:
  // Owns and closes `fd` (unless Release()d). `intercepted` is "https://host[:port]" for the
  // plaintext side of an intercepted CONNECT: origin-form requests then go to that origin.
  // `acceptor`: the one that accepted `fd`, which holds the request-header deadline.
  Connection(Server* server, int fd, std::string intercepted = "",
             net::ConnectionAcceptor* acceptor = nullptr)
      : server_(server),
        sock_(io_, fd),
        intercepted_(std::move(intercepted)),
        acceptor_(acceptor) {}
  void Run();
  // Gives up ownership of the fd (the caller closes it).
  void Release() { sock_.release(); }

 private:
  using Parser = http::request_parser<http::buffer_body>;
  bool Handle(Parser& parser);
  bool HandleMirror(Parser& parser, std::string_view target);
  bool HandleProxy(Parser& parser, std::string_view target);
  bool HandleConnect(Parser& parser, std::string_view target);
  bool Intercept(const std::string& authority, const std::string& host);
  bool ForwardTo(Parser& parser, const std::string& url);
  P2PRequest MakeP2PRequest(const Parser& parser, const std::string& url, bool registry) const;
  bool CheckProxyAuth(Parser& parser);
  Headers ForwardHeaders(const Parser& parser) const;
  bool SendError(int status, const std::string& type, const std::string& message, bool keep_alive,
                 const std::string& extra_headers = "");
  int fd() { return sock_.native_handle(); }

  Server* server_;
  asio::io_context io_;
  asio::posix::stream_descriptor sock_;
  beast::flat_buffer buf_;
  std::string intercepted_;
  net::ConnectionAcceptor* acceptor_;  // null for an intercepted CONNECT's inner stream
};

class Server : public ProxyServer {
 public:
  Server(DaemonContext* ctx, Downloads* downloads, net::Listener listener,
         std::unique_ptr<CertAuthority> ca)
      : ctx_(ctx),
        port_(listener.port()),
        loopback_(listener.loopback_only()),
        p2p_(ctx, downloads),
        ca_(std::move(ca)) {
    const auto& cfg = ctx->config->proxy;
    for (const auto& h : cfg.hijack_https.hosts) {
      hijack_.emplace_back(h);
    }
    for (const auto& r : cfg.rules) {
      rules_.push_back({std::regex(r.regex), r});
    }
    for (const auto& a : cfg.allow_hosts) {
      allow_.emplace_back(a);
    }
    std::string addr = cfg.registry_mirror.addr;
    while (!addr.empty() && addr.back() == '/') {
      addr.pop_back();
    }
    default_registry_ = addr;
    if (auto u = ParseUrl(addr); u.ok()) {
      allowed_destinations_.push_back(Destination(*u));
    }
    for (const auto& r : cfg.registries) {  // host[:port]; without a port, 443 or 80
      for (const char* scheme : {"https://", "http://"}) {
        if (auto u = ParseUrl(scheme + r.host); u.ok()) {
          allowed_destinations_.push_back(Destination(*u));
        }
      }
    }
    net::ConnectionAcceptor::Options o;
    o.name = "proxy";
    o.max_connections = cfg.max_connections;
    o.request_timeout = cfg.request_timeout;
    // The socket, the connection's io_context (epoll, eventfd, timerfd), an upstream
    // connection and a task file.
    o.fds_per_connection = 6;
    o.serve = [this](int fd, net::ConnectionAcceptor* self) {
      Connection conn(this, fd, "", self);
      conn.Run();
      conn.Release();
    };
    o.busy = [](int fd) {
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nX-Dragonfly-Error-Type: proxy\r\n"
          "Content-Length: 0\r\nConnection: close\r\n\r\n";
      (void)net::WriteAll(fd, kBusy, sizeof(kBusy) - 1);
    };
    acceptor_ = std::make_unique<net::ConnectionAcceptor>(std::move(listener), std::move(o));
  }
  ~Server() override { Stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const override { return port_; }
  // Waits for every connection thread (they use this object): P2P responses give up within
  // 200 ms, a forwarded request within proxy.upstreamTimeout.
  void Stop() override {
    p2p_.Stop();
    acceptor_->Stop();
  }

  DaemonContext* ctx() { return ctx_; }
  P2PServer& p2p() { return p2p_; }
  // The CA to intercept a CONNECT to `authority` with, or nullptr to tunnel it untouched.
  CertAuthority* InterceptionCa(const std::string& authority) const {
    bool match = std::any_of(hijack_.begin(), hijack_.end(),
                             [&](const std::regex& re) { return std::regex_match(authority, re); });
    return match ? ca_.get() : nullptr;
  }
  const std::string& default_registry() const { return default_registry_; }

  // The first rule matching `url` (query excluded), or nullptr.
  const DaemonConfig::Proxy::Rule* MatchRule(const std::string& url) const {
    std::string bare = url.substr(0, url.find('?'));
    for (const auto& [re, rule] : rules_) {
      if (std::regex_search(bare, re)) {
        return &rule;
      }
    }
    return nullptr;
  }

  // May this proxy contact `url` (normal form, see dragonfly/common/url.h) for a client?
  // Everything when it listens on loopback only; otherwise the mirror's default registry and
  // proxy.registries (exact host and port), rule matches and allowHosts. Checked on the URL as
  // it will be fetched: no fragment, no dot-segments, lower-case host, default port dropped.
  bool Allowed(const Url& url) const {
    if (loopback_) {
      return true;
    }
    std::string authority = url.authority();
    if (std::find(allowed_destinations_.begin(), allowed_destinations_.end(), Destination(url)) !=
        allowed_destinations_.end()) {
      return true;
    }
    if (MatchRule(url.ToString()) != nullptr) {
      return true;
    }
    return std::any_of(allow_.begin(), allow_.end(),
                       [&](const std::regex& re) { return std::regex_match(authority, re); });
  }

 private:
  DaemonContext* ctx_;
  uint16_t port_;
  bool loopback_;
  P2PServer p2p_;
  std::unique_ptr<CertAuthority> ca_;
  std::vector<std::regex> hijack_;
  std::vector<std::pair<std::regex, DaemonConfig::Proxy::Rule>> rules_;
  std::vector<std::regex> allow_;
  std::string default_registry_;
  // The default registry's and proxy.registries' destinations (Destination()).
  std::vector<std::string> allowed_destinations_;
  std::unique_ptr<net::ConnectionAcceptor> acceptor_;  // last: its threads use the above
};

void Connection::Run() {
  net::SetTimeouts(fd(), 300000);
  while (true) {
    Parser parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(boost::none);
    beast::error_code ec;
    if (acceptor_ != nullptr) {
      acceptor_->AwaitRequest(fd());
    }
    http::read_header(sock_, buf_, parser, ec);
    if (acceptor_ != nullptr) {
      acceptor_->RequestStarted(fd());
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == asio::error::not_connected || ec == asio::error::shut_down) {
      return;  // closed, or shut down at the header deadline
    }
    if (ec == http::error::header_limit) {
      SendError(431, "proxy", "request header fields too large", false);
      return;
    }
    if (ec) {
      SendError(400, "proxy", "malformed request: " + ec.message(), false);
      return;
    }
    bool keep = false;
    auto& active = server_->ctx()->metrics->proxy_active;
    active.Increment();
    try {
      keep = Handle(parser);
    } catch (const std::exception& e) {
      spdlog::error("proxy request failed error=\"{}\"", e.what());
      keep = false;
    }
    active.Decrement();
    if (!keep || !parser.is_done()) {
      return;
    }
  }
}

bool Connection::Handle(Parser& parser) {
  const auto& req = parser.get();
  std::string_view target(req.target().data(), req.target().size());
  if (req.method() == http::verb::connect) {
    return HandleConnect(parser, target);
  }
  if (!intercepted_.empty() && target.rfind("/", 0) == 0) {
    return HandleProxy(parser, intercepted_ + std::string(target));
  }
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    return HandleProxy(parser, target);
  }
  if (target.rfind("/v2", 0) == 0) {
    return HandleMirror(parser, target);
  }
  return SendError(404, "proxy", "not a registry (/v2/...) or proxy request", req.keep_alive());
}

Headers Connection::ForwardHeaders(const Parser& parser) const {
  Headers out;
  for (const auto& f : parser.get()) {
    std::string name(f.name_string());
    if (IsHopByHop(name) || EqualsIgnoreCase(name, "Host") ||
        EqualsIgnoreCase(name, "Content-Length") ||
        (name.size() > 12 && EqualsIgnoreCase(name.substr(0, 12), "X-Dragonfly-"))) {
      continue;
    }
    out.emplace_back(std::move(name), std::string(f.value()));
  }
  return out;
}

P2PRequest Connection::MakeP2PRequest(const Parser& parser, const std::string& url,
                                      bool registry) const {
  const auto& req = parser.get();
  auto get = [&](std::string_view name) {
    auto it = req.find(name);
    return it == req.end() ? std::string() : std::string(it->value());
  };
  P2PRequest r;
  r.url = url;
  r.registry = registry;
  r.keep_alive = req.keep_alive();
  r.range = get("Range");
  r.tag = get("X-Dragonfly-Tag");
  r.application = get("X-Dragonfly-Application");
  std::string filtered = get("X-Dragonfly-Filtered-Query-Params");
  for (size_t pos = 0; pos < filtered.size();) {
    size_t comma = std::min(filtered.find(',', pos), filtered.size());
    std::string p = filtered.substr(pos, comma - pos);
    p.erase(0, p.find_first_not_of(' '));
    if (!p.empty()) {
      r.filtered_query_params.push_back(p);
    }
    pos = comma + 1;
  }
  r.headers = ForwardHeaders(parser);
  r.target = std::string(req.target());
  return r;
}

bool Connection::SendError(int status, const std::string& type, const std::string& message,
                           bool keep_alive, const std::string& extra_headers) {
  server_->ctx()->metrics->proxy_errors.Increment();
  return SendErrorResponse(fd(), status, type, message, keep_alive, extra_headers);
}

bool Connection::ForwardTo(Parser& parser, const std::string& url) {
  const auto& req = parser.get();
  UpstreamRequest up;
  up.method = std::string(req.method_string());
  up.url = url;
  up.headers = ForwardHeaders(parser);
  up.has_body = !parser.is_done() && (req.has_content_length() || req.chunked());
  up.body_length = req.has_content_length() && parser.content_length()
                       ? static_cast<int64_t>(*parser.content_length())
                       : -1;
  up.read_body = [this, &parser](char* out, size_t cap) -> long {
    if (parser.is_done()) {
      return 0;
    }
    parser.get().body().data = out;
    parser.get().body().size = cap;
    beast::error_code ec;
    http::read(sock_, buf_, parser, ec);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (ec) {
      return -1;
    }
    return static_cast<long>(cap - parser.get().body().size);
  };
  up.timeout_s = static_cast<long>(server_->ctx()->config->proxy.upstream_timeout.count() / 1000);
  server_->ctx()->metrics->proxy_passthrough.Increment();
  ForwardResult r = Forward(server_->p2p().tls(), up, fd(), req.keep_alive());
  if (r.complete) {
    return req.keep_alive();
  }
  spdlog::warn("proxy forward failed url=\"{}\" error=\"{}\"", url.substr(0, url.find('?')),
               r.error.ToString());
  if (!r.response_started) {
    SendError(r.error.code() == StatusCode::kDeadlineExceeded ? 504 : 502, "backend",
              r.error.message(), false);
  }
  return false;
}

bool Connection::HandleMirror(Parser& parser, std::string_view target) {
  const auto& req = parser.get();
  std::string path(target.substr(0, target.find('?')));
  std::string query = target.find('?') == std::string_view::npos
                          ? ""
                          : std::string(target.substr(target.find('?') + 1));
  std::string ns;
  std::string kept;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) {
      amp = query.size();
    }
    std::string pair = query.substr(pos, amp - pos);
    if (pair.rfind("ns=", 0) == 0) {
      ns = UrlDecode(pair.substr(3));
    } else if (!pair.empty()) {
      kept += (kept.empty() ? "" : "&") + pair;
    }
    pos = amp + 1;
  }
  std::string base;
  auto header = req.find("X-Dragonfly-Registry");
  const auto& cfg = server_->ctx()->config->proxy;
  if (header != req.end()) {
    base = std::string(header->value());
    if (!ValidBaseUrl(base)) {
      return SendError(400, "proxy", "bad X-Dragonfly-Registry: want http(s)://host[:port]", false);
    }
  } else if (!ns.empty()) {
    if (!ValidAuthority(ns)) {
      return SendError(400, "proxy", "bad ns parameter: want host[:port]", false);
    }
    base = cfg.registry_mirror.ns_scheme + "://" + ns;
  } else {
    base = server_->default_registry();
  }
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  auto parsed = ParseUrl(base + path + (kept.empty() ? "" : "?" + kept));
  if (!parsed.ok() || parsed->path.rfind("/v2", 0) != 0) {
    return SendError(400, "proxy", "bad registry URL", false);
  }
  std::string url = parsed->ToString();
  if (!server_->Allowed(*parsed)) {
    return SendError(403, "proxy",
                     "registry " + parsed->authority() + " is not allowed by this mirror", false);
  }
  return req.method() == http::verb::get && server_->MatchRule(url) != nullptr
             ? server_->p2p().Serve(fd(), MakeP2PRequest(parser, url, true))
             : ForwardTo(parser, url);
}

bool Connection::CheckProxyAuth(Parser& parser) {
  const auto& cfg = server_->ctx()->config->proxy;
  if (cfg.basic_auth_username.empty()) {
    return true;
  }
  auto h = parser.get().find(http::field::proxy_authorization);
  std::string want = cfg.basic_auth_username + ":" + cfg.basic_auth_password;
  std::string encoded(beast::detail::base64::encoded_size(want.size()), '\0');
  encoded.resize(beast::detail::base64::encode(encoded.data(), want.data(), want.size()));
  std::string want_header = "Basic " + encoded;
  // Constant-time: the comparison must not tell how much of a guess was right.
  if (h != parser.get().end() && h->value().size() == want_header.size() &&
      CRYPTO_memcmp(h->value().data(), want_header.data(), want_header.size()) == 0) {
    return true;
  }
  SendError(407, "proxy", "proxy authentication required", false,
            "Proxy-Authenticate: Basic realm=\"dragonfly\"\r\n");
  return false;
}

bool Connection::HandleProxy(Parser& parser, std::string_view target) {
  // Inside an intercepted CONNECT the client authenticated with the CONNECT.
  if (intercepted_.empty() && !CheckProxyAuth(parser)) {
    return false;
  }
  const auto& req = parser.get();
  // Rules and the allow-list see the URL as it will be fetched.
  auto parsed = ParseUrl(std::string(target));
  if (!parsed.ok()) {
    return SendError(400, "proxy", parsed.status().message(), false);
  }
  std::string url = parsed->ToString();
  std::string authority = parsed->authority();
  const DaemonConfig::Proxy::Rule* rule = server_->MatchRule(url);
  if (!server_->Allowed(*parsed)) {
    return SendError(403, "proxy", "host " + authority + " is not allowed by this proxy", false);
  }
  auto use = req.find("X-Dragonfly-Use-P2P");
  bool p2p = req.method() == http::verb::get &&
             (rule != nullptr || (use != req.end() && EqualsIgnoreCase(use->value(), "true")));
  if (rule != nullptr && rule->use_tls && url.rfind("http://", 0) == 0) {
    url = "https://" + url.substr(7);
  }
  if (rule != nullptr && !rule->redirect.empty()) {
    url = url.substr(0, url.find("://") + 3) + rule->redirect +
          url.substr(url.find("://") + 3 + authority.size());
  }
  return p2p ? server_->p2p().Serve(fd(), MakeP2PRequest(parser, url, false))
             : ForwardTo(parser, url);
}

bool Connection::HandleConnect(Parser& parser, std::string_view target) {
  if (!CheckProxyAuth(parser)) {
    return false;
  }
  std::string authority(target);
  StatusOr<net::HostPort> hp = net::SplitHostPort(authority);
  if (!ValidAuthority(authority) || !hp.ok() || hp->port == 0) {
    return SendError(400, "proxy", "CONNECT wants host:port ([v6::addr]:port)", false);
  }
  auto parsed = ParseUrl("https://" + authority + "/");
  if (!parsed.ok() || !server_->Allowed(*parsed)) {
    return SendError(403, "proxy", "host " + authority + " is not allowed by this proxy", false);
  }
  if (server_->InterceptionCa(authority) != nullptr) {
    return Intercept(authority, hp->host);
  }
  auto upstream = net::Connect(hp->host, hp->port, 10000);
  if (!upstream.ok()) {
    return SendError(502, "backend", upstream.status().message(), false);
  }
  static const char kOk[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
  if (!net::WriteAll(fd(), kOk, sizeof(kOk) - 1).ok()) {
    return false;
  }
  server_->ctx()->metrics->proxy_tunnels.Increment();
  // Bytes the client sent after the CONNECT head belong to the tunnel.
  if (buf_.size() > 0) {
    auto data = buf_.data();
    if (!net::WriteAll(upstream->get(), data.data(), data.size()).ok()) {
      return false;
    }
    buf_.consume(buf_.size());
  }
  int a = fd();
  int b = upstream->get();
  net::SetTimeouts(b, 0);
  char chunk[64 * 1024];
  while (true) {
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    if (::poll(p, 2, 300000) <= 0) {
      return false;
    }
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      ssize_t n = ::recv(p[i].fd, chunk, sizeof(chunk), 0);
      if (n <= 0 || !net::WriteAll(i == 0 ? b : a, chunk, static_cast<size_t>(n)).ok()) {
        return false;
      }
    }
  }
}

// Answers the CONNECT, terminates the client's TLS with a certificate for `host`, and serves
// the requests inside as proxy requests to https://authority on a plaintext socketpair.
bool Connection::Intercept(const std::string& authority, const std::string& host) {
  auto ctx = server_->InterceptionCa(authority)->ServerContext(host);
  if (!ctx.ok()) {
    return SendError(502, "proxy", ctx.status().message(), false);
  }
  if (buf_.size() > 0) {
    return SendError(400, "proxy", "data sent before the CONNECT was answered", false);
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return SendError(503, "proxy", "socketpair: " + std::string(std::strerror(errno)), false);
  }
  static const char kOk[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
  if (!net::WriteAll(fd(), kOk, sizeof(kOk) - 1).ok()) {
    ::close(pair[0]);
    ::close(pair[1]);
    return false;
  }
  server_->ctx()->metrics->proxy_intercepted.Increment();
  net::SetTimeouts(pair[0], 300000);
  std::string origin = authority.size() > 4 && authority.ends_with(":443")
                           ? "https://" + authority.substr(0, authority.size() - 4)
                           : "https://" + authority;
  std::thread bridge([&, plain = pair[0]] {
    Status s = RunTlsBridge(ctx->get(), fd(), plain, 300000);
    if (!s.ok()) {
      spdlog::warn("intercepted connection to {} ended error=\"{}\"", authority, s.ToString());
    }
    ::shutdown(plain, SHUT_RDWR);
  });
  {
    Connection inner(server_, pair[1], origin);  // closes pair[1]
    inner.Run();
  }
  bridge.join();
  ::close(pair[0]);
  return false;
}

}  // namespace

StatusOr<std::unique_ptr<ProxyServer>> StartProxyServer(DaemonContext* ctx, Downloads* downloads) {
  DF_ASSIGN_OR_RETURN(net::HostPort addr, net::SplitHostPort(ctx->config->proxy.listen));
  DF_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Open(addr.host, addr.port, 1024));
  std::unique_ptr<CertAuthority> ca;
  const auto& hijack = ctx->config->proxy.hijack_https;
  if (!hijack.hosts.empty()) {
    bool generate = hijack.cert.empty();
    auto dir = std::filesystem::path(ctx->config->storage.dir).parent_path();
    std::string cert = generate ? (dir / "proxy-ca.crt").string() : hijack.cert;
    std::string key = generate ? (dir / "proxy-ca.key").string() : hijack.key;
    bool existed = std::filesystem::exists(cert);
    DF_ASSIGN_OR_RETURN(ca, CertAuthority::LoadOrCreate(cert, key, generate));
    if (generate && !existed) {
      spdlog::warn(
          "generated the HTTPS interception CA {}: install it in the trust store of "
          "clients that use this proxy",
          cert);
    }
    spdlog::info("HTTPS interception on for {} host pattern(s) ca={}", hijack.hosts.size(), cert);
  }
  return std::unique_ptr<ProxyServer>(
      std::make_unique<Server>(ctx, downloads, std::move(listener), std::move(ca)));
}

}  // namespace df::daemon::proxy
