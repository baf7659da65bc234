// Sockets for every component: addresses ("host:port" with IPv6 in brackets), listeners that
// bind every address of a name, and connections that try every address (Happy Eyeballs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::net {

// Owns a file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// ---- Addresses (net_address.cc) ----

enum class Family { kAny, kIPv4, kIPv6 };

struct HostPort {
  std::string host;  // without brackets: "::1", "127.0.0.1", "node-1.example"
  uint16_t port = 0;
};

// "host:port" -> {host, port}. An IPv6 literal must be in brackets ("[::1]:4000"); a bare
// "::1:4000" is refused as ambiguous. The host must be an IPv4 literal, an IPv6 literal or a
// DNS name; an empty host is refused (every address is "0.0.0.0:port" or "[::]:port").
StatusOr<HostPort> SplitHostPort(std::string_view address);
// A listen setting, checked at start: SplitHostPort's syntax, and a host name must resolve.
Status CheckListenAddress(std::string_view address);
// {host, port} -> "host:port", with brackets around an IPv6 literal.
std::string JoinHostPort(std::string_view host, uint16_t port);
// The host as it goes into a URL authority: brackets around an IPv6 literal.
std::string UrlHost(std::string_view host);
// The family of an IP literal (brackets allowed); kAny if `host` is not a literal.
Family LiteralFamily(std::string_view host);
bool IsIpLiteral(std::string_view host);
// "::", "0.0.0.0" or empty: every address.
bool IsWildcard(std::string_view host);
// Raises this process's soft limit on open files to its hard limit (a server holds a socket per
// client); returns the soft limit now in force. Call once at start.
uint64_t RaiseFdLimit();

// The connections this process's servers may hold at once, together: the open-files limit less
// a reserve (a quarter of it, at least 256) for store files, listeners, outbound connections and
// gRPC, which stops accepting for good once it meets EMFILE. A server takes a unit per accepted
// connection and refuses the connection (busy) when none is left.
class FdBudget {
 public:
  // `n`: the descriptors one connection holds (its socket, and e.g. an event loop's).
  static bool Acquire(uint64_t n = 1);
  static void Release(uint64_t n = 1);
  static uint64_t capacity();
  static uint64_t in_use();
};

// Every address `host` (a name or a literal) resolves to, as literals ("::1", "10.0.0.2").
StatusOr<std::vector<std::string>> ResolveHost(const std::string& host);
// Is the IP literal `ip` inside `cidr` ("10.0.0.0/8", "fd00::/8", or one address)? An
// IPv4-mapped IPv6 address ("::ffff:10.0.0.1") is matched as the IPv4 address it carries.
bool InCidr(const std::string& ip, const std::string& cidr);

// The family of a gRPC peer string ("ipv4:1.2.3.4:5", "ipv6:[::1]:5"); an IPv4-mapped IPv6
// peer ("ipv6:[::ffff:1.2.3.4]:5") counts as IPv4.
Family PeerFamily(std::string_view grpc_peer);
// The address as an IP literal in canonical text form, or InvalidArgument.
StatusOr<std::string> CanonicalIp(std::string_view ip);

// The addresses a host announces to others, for a server listening on `listen_host`: a specific
// IP literal is announced as itself; a name, as every address it resolves to; a wildcard, as
// every address of the host's interfaces in the wildcard's families (global ones first, IPv4
// before IPv6; loopback only when nothing else exists).
std::vector<std::string> AdvertisedAddresses(std::string_view listen_host);

// ---- Listening (net_listen.cc) ----

// A listening TCP port on one or more sockets: "[::]:p" is one dual-stack socket (IPv6 and
// IPv4), "0.0.0.0:p" IPv4 only, a literal that one address, and a host name every address it
// resolves to, all on the same port (port 0 picks one free on all of them). Addresses of a name
// that cannot be bound here (say ::1 with IPv6 disabled) are skipped when another one binds.
class Listener {
 public:
  Listener() = default;
  Listener(Listener&&) noexcept = default;
  Listener& operator=(Listener&&) noexcept = default;

  static StatusOr<Listener> Open(const std::string& host, uint16_t port, int backlog = 1024);

  uint16_t port() const { return port_; }
  // The bound addresses as "host:port", for log lines.
  const std::vector<std::string>& addresses() const { return addresses_; }
  const std::vector<Fd>& sockets() const { return fds_; }
  // Every bound address is a loopback one (127.0.0.0/8, ::1): no other host can connect.
  bool loopback_only() const { return loopback_only_; }
  // Applies SO_SNDBUF/SO_RCVBUF to every socket (inherited by accepted connections).
  void SetBufferSizes(int bytes);
  // Waits up to `timeout_ms` (-1 = forever) for a connection on any socket, or until `wake_fd`
  // (optional) is readable. Returns an invalid Fd on timeout or wake-up, an error when accept
  // fails for a reason other than a connection aborted before it was accepted (EMFILE, ENFILE,
  // ENOBUFS, ENOMEM: the caller should back off).
  StatusOr<Fd> Accept(int timeout_ms, int wake_fd = -1);
  void Close() { fds_.clear(); }

 private:
  std::vector<Fd> fds_;
  std::vector<std::string> addresses_;
  uint16_t port_ = 0;
  bool loopback_only_ = true;
  size_t next_ = 0;  // round-robin start for Accept
};

// ---- Connecting (net_connect.cc) ----

struct ConnectOptions {
  int timeout_ms = 10000;        // for the whole attempt, every address included
  int attempt_delay_ms = 250;    // RFC 8305 "Connection Attempt Delay"
  Family prefer = Family::kAny;  // start with this family (default: the resolver's order)
};

// Connects to the first address of `host` that answers: every address `host` resolves to (a
// literal is one address), families interleaved, a new attempt started every attempt_delay_ms
// or as soon as the previous one fails, all within one deadline (RFC 8305, Happy Eyeballs).
// The error names each address tried and what happened to it. Sets TCP_NODELAY.
StatusOr<Fd> Connect(const std::string& host, uint16_t port, const ConnectOptions& options);
StatusOr<Fd> Connect(const std::string& host, uint16_t port, int timeout_ms);
// The same over several hosts (the addresses a peer announced, in preference order).
StatusOr<Fd> ConnectAny(const std::vector<std::string>& hosts, uint16_t port,
                        const ConnectOptions& options);

// ---- I/O helpers (net.cc) ----

StatusOr<uint16_t> LocalPort(int fd);
// Send/receive timeouts (SO_SNDTIMEO/SO_RCVTIMEO); 0 = none.
void SetTimeouts(int fd, int timeout_ms);
void SetBufferSizes(int fd, int bytes);
// `more` sets MSG_MORE: more data follows at once (lets the kernel coalesce small writes).
Status WriteAll(int fd, const void* data, size_t n, bool more = false);
// Ends our side of `fd` and reads (and drops) what the peer still sends, up to `max_bytes` or
// `timeout_ms`, so a peer still sending a request we refused reads our answer instead of a
// reset. Does not close fd.
void LingeringShutdown(int fd, size_t max_bytes, int timeout_ms);
Status ReadFull(int fd, void* data, size_t n);  // Unavailable("connection closed") on EOF
// Sends [offset, offset+n) of file `file_fd` on socket `fd` with sendfile(2).
Status SendFile(int fd, int file_fd, uint64_t offset, size_t n);

}  // namespace df::net
