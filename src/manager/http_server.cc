#include "manager/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "dragonfly/common/acceptor.h"
#include "dragonfly/common/net.h"

namespace df::manager {
namespace {

// The client's address, for throttling and logs ("" when unknown). IPv4-mapped IPv6 addresses
// are given in IPv4 form, so one client has one key whichever socket it reached.
std::string PeerAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return "";
  }
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      ::inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof(buf));
    } else {
      ::inet_ntop(AF_INET6, &a, buf, sizeof(buf));
    }
  }
  return buf;
}

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) {
      slash = path.size();
    }
    if (slash > pos) {
      out.push_back(path.substr(pos, slash - pos));
    }
    pos = slash + 1;
  }
  return out;
}

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(uint8_t(s[i + 1])) &&
               std::isxdigit(uint8_t(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

class Server : public HttpServer {
 public:
  Server(net::Listener listener, const HttpRouter* router, uint64_t max_body,
         uint32_t max_connections, std::chrono::milliseconds request_timeout)
      : port_(listener.port()), router_(router), max_body_(max_body) {
    net::ConnectionAcceptor::Options o;
    o.name = "manager REST";
    o.max_connections = max_connections;
    o.request_timeout = request_timeout;
    o.fds_per_connection = 5;  // the socket, its io_context (3), a database connection
    o.serve = [this](int fd, net::ConnectionAcceptor* self) { Serve(fd, self); };
    o.busy = [](int fd) {  // over the connection limit: say so rather than drop it
      static constexpr char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Retry-After: 1\r\nContent-Length: 41\r\nConnection: close\r\n\r\n"
          "{\"message\":\"too many connections; retry\"}";
      (void)::send(fd, kBusy, sizeof(kBusy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    };
    acceptor_ = std::make_unique<net::ConnectionAcceptor>(std::move(listener), std::move(o));
  }
  ~Server() override { Stop(); }
  uint16_t port() const override { return port_; }
  void Stop() override { acceptor_->Stop(); }

 private:
  void Serve(int fd, net::ConnectionAcceptor* acceptor) {
    net::SetTimeouts(fd, 120000);
    const std::string remote = PeerAddress(fd);
    asio::io_context io;
    asio::posix::stream_descriptor sock(io, fd);
    struct Release {  // the caller closes fd
      asio::posix::stream_descriptor& s;
      ~Release() { s.release(); }
    } release{sock};
    beast::flat_buffer buf;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(64 * 1024);
      parser.body_limit(max_body_);
      beast::error_code ec;
      acceptor->AwaitRequest(fd);
      http::read_header(sock, buf, parser, ec);
      acceptor->RequestStarted(fd);
      if (!ec && parser.content_length() && *parser.content_length() > max_body_) {
        ec = http::error::body_limit;  // refuse before reading it
      } else if (!ec) {
        http::read(sock, buf, parser, ec);
      }
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset) {
        return;
      }
      HttpResponse resp;
      bool keep = false;
      if (ec == http::error::body_limit) {
        resp = HttpResponse::Error(
            413, "request body larger than " + std::to_string(max_body_) + " bytes");
      } else if (ec == http::error::header_limit) {
        resp = HttpResponse::Error(431, "request header fields too large");
      } else if (ec) {
        resp = HttpResponse::Error(400, "malformed request: " + ec.message());
      } else {
        auto& r = parser.get();
        keep = r.keep_alive();
        HttpRequest req;
        req.remote = remote;
        req.method = std::string(r.method_string());
        std::string target(r.target());
        size_t q = target.find('?');
        req.path = target.substr(0, q);
        if (q != std::string::npos) {
          for (const auto& pair : SplitQuery(target.substr(q + 1))) {
            req.query[pair.first] = pair.second;
          }
        }
        for (const auto& f : r) {
          std::string name(f.name_string());
          std::transform(name.begin(), name.end(), name.begin(), ::tolower);
          req.headers[name] = std::string(f.value());
        }
        req.body = std::move(r.body());
        try {
          resp = router_->Dispatch(req);
        } catch (const std::exception& e) {
          spdlog::error("manager: {} {} failed error=\"{}\"", req.method, req.path, e.what());
          resp = HttpResponse::Error(500, "internal error");
        }
        spdlog::debug("manager: {} {} status={}", req.method, req.path, resp.status);
      }
      http::response<http::string_body> out{static_cast<http::status>(resp.status), 11};
      out.set(http::field::server, "dragonfly-manager");
      out.set(http::field::content_type, resp.content_type);
      for (const auto& [k, v] : resp.headers) {
        out.set(k, v);
      }
      out.body() = std::move(resp.body);
      out.keep_alive(keep);
      out.prepare_payload();
      http::write(sock, out, ec);
      if (ec || !keep) {
        return;  // the acceptor ends the connection (with a lingering shutdown)
      }
    }
  }

  static std::vector<std::pair<std::string, std::string>> SplitQuery(const std::string& q) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t pos = 0;
    while (pos <= q.size()) {
      size_t amp = q.find('&', pos);
      if (amp == std::string::npos) {
        amp = q.size();
      }
      std::string pair = q.substr(pos, amp - pos);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        out.emplace_back(UrlDecode(pair.substr(0, eq)),
                         eq == std::string::npos ? "" : UrlDecode(pair.substr(eq + 1)));
      }
      pos = amp + 1;
    }
    return out;
  }

  uint16_t port_;
  const HttpRouter* router_;
  uint64_t max_body_;
  std::unique_ptr<net::ConnectionAcceptor> acceptor_;  // last: its threads use the above
};

}  // namespace

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::Error(int status, const std::string& message) {
  return Json(status, {{"message", message}});
}

void HttpRouter::Add(const std::string& method, const std::string& pattern, HttpHandler handler) {
  routes_.push_back({method, SplitPath(pattern), std::move(handler)});
}

HttpResponse HttpRouter::Dispatch(HttpRequest& req) const {
  const auto start = std::chrono::steady_clock::now();
  HttpResponse resp = Match(req);
  if (observer_) {
    observer_(req, resp.status,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return resp;
}

HttpResponse HttpRouter::Match(HttpRequest& req) const {
  std::vector<std::string> segs = SplitPath(req.path);
  bool path_matched = false;
  for (const auto& r : routes_) {
    std::map<std::string, std::string> params;
    bool match = true;
    size_t i = 0;
    for (; i < r.segments.size(); ++i) {
      if (r.segments[i] == "*") {
        break;
      }
      if (i >= segs.size()) {
        match = false;
        break;
      }
      if (r.segments[i][0] == ':') {
        params[r.segments[i].substr(1)] = UrlDecode(segs[i]);
      } else if (r.segments[i] != segs[i]) {
        match = false;
        break;
      }
    }
    if (match && i == r.segments.size() && i != segs.size()) {
      match = false;
    }
    if (!match) {
      continue;
    }
    if (r.method != req.method) {
      // A wildcard route (the console's) takes what nothing else does: another method on it is
      // "no such endpoint", not "method not allowed".
      path_matched = path_matched || r.segments.empty() || r.segments.back() != "*";
      continue;
    }
    path_matched = true;
    req.params = std::move(params);
    return r.handler(req);
  }
  return path_matched ? HttpResponse::Error(405, "method not allowed")
                      : HttpResponse::Error(404, "no such endpoint: " + req.path);
}

StatusOr<std::unique_ptr<HttpServer>> StartHttpServer(const std::string& listen,
                                                      const HttpRouter* router, uint64_t max_body,
                                                      uint32_t max_connections,
                                                      std::chrono::milliseconds request_timeout) {
  DF_ASSIGN_OR_RETURN(net::HostPort addr, net::SplitHostPort(listen));
  DF_ASSIGN_OR_RETURN(net::Listener listener, net::Listener::Open(addr.host, addr.port, 512));
  return std::unique_ptr<HttpServer>(std::make_unique<Server>(std::move(listener), router, max_body,
                                                              max_connections, request_timeout));
}

}  // namespace df::manager
