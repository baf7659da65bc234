#include "dragonfly/common/net.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

namespace df::net {
namespace {

bool HasIPv6Loopback() {
  StatusOr<Listener> l = Listener::Open("::1", 0);
  return l.ok();
}

// The peer address of a connected socket, as "host:port".
std::string PeerOf(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    return JoinHostPort(buf, ntohs(in6->sin6_port));
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
  return JoinHostPort(buf, ntohs(in->sin_port));
}

TEST(SplitHostPortTest, AcceptsLiteralsAndNames) {
  struct Case {
    const char* in;
    const char* host;
    uint16_t port;
  } cases[] = {
      {"127.0.0.1:8002", "127.0.0.1", 8002},
      {"[::1]:0", "::1", 0},
      {"[::]:65001", "::", 65001},
      {"0.0.0.0:4000", "0.0.0.0", 4000},
      {"localhost:4000", "localhost", 4000},
      {"node-1.example.com:1", "node-1.example.com", 1},
      {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
  };
  for (const Case& c : cases) {
    auto hp = SplitHostPort(c.in);
    ASSERT_TRUE(hp.ok()) << c.in << ": " << hp.status().ToString();
    EXPECT_EQ(hp->host, c.host) << c.in;
    EXPECT_EQ(hp->port, c.port) << c.in;
  }
}

TEST(SplitHostPortTest, RefusesWithAClearError) {
  auto bare = SplitHostPort("::1:4000");
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("needs brackets: [::1]:4000"), std::string::npos)
      << bare.status().message();
  for (const char* bad :
       {"host:", "host:70000", ":80", "[::1]", "[::1]80", "[1.2.3.4]:80", "1.2.3.999:80",
        "bad host:80", "host:-1", "host:8o", "", "[]:80", "a..b:80"}) {
    auto hp = SplitHostPort(bad);
    EXPECT_FALSE(hp.ok()) << bad;
    EXPECT_EQ(hp.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(hp.status().message().find(std::string("'") + bad + "'"), std::string::npos)
        << "the error names the address: " << hp.status().message();
  }
}

TEST(AddressTest, JoinAndLiterals) {
  EXPECT_EQ(JoinHostPort("::1", 80), "[::1]:80");
  EXPECT_EQ(JoinHostPort("[::1]", 80), "[::1]:80");
  EXPECT_EQ(JoinHostPort("10.0.0.1", 80), "10.0.0.1:80");
  EXPECT_EQ(JoinHostPort("registry.local", 5000), "registry.local:5000");
  EXPECT_EQ(UrlHost("2001:db8::1"), "[2001:db8::1]");
  EXPECT_EQ(LiteralFamily("::1"), Family::kIPv6);
  EXPECT_EQ(LiteralFamily("[::1]"), Family::kIPv6);
  EXPECT_EQ(LiteralFamily("10.1.2.3"), Family::kIPv4);
  EXPECT_EQ(LiteralFamily("localhost"), Family::kAny);
  EXPECT_TRUE(IsWildcard("::"));
  EXPECT_TRUE(IsWildcard("[::]"));
  EXPECT_TRUE(IsWildcard("0.0.0.0"));
  EXPECT_FALSE(IsWildcard("::1"));
  EXPECT_EQ(*CanonicalIp("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(*CanonicalIp("[2001:DB8::1]"), "2001:db8::1");
  EXPECT_EQ(*CanonicalIp("10.0.0.5"), "10.0.0.5");
  EXPECT_FALSE(CanonicalIp("node-1").ok());
  EXPECT_FALSE(CanonicalIp("10.0.0.256").ok());
}

TEST(AddressTest, PeerFamily) {
  EXPECT_EQ(PeerFamily("ipv4:127.0.0.1:5000"), Family::kIPv4);
  EXPECT_EQ(PeerFamily("ipv6:[::1]:5000"), Family::kIPv6);
  EXPECT_EQ(PeerFamily("ipv6:%5B::1%5D:5000"), Family::kIPv6);
  EXPECT_EQ(PeerFamily("ipv6:[::ffff:10.0.0.1]:5000"), Family::kIPv4);
  EXPECT_EQ(PeerFamily("ipv6:%5B::ffff:10.0.0.1%5D:5000"), Family::kIPv4);
  EXPECT_EQ(PeerFamily("unix:/run/x.sock"), Family::kAny);
}

TEST(AddressTest, AdvertisedAddresses) {
  EXPECT_EQ(AdvertisedAddresses("127.0.0.1"), std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(AdvertisedAddresses("[::1]"), std::vector<std::string>{"::1"});
  std::vector<std::string> v4 = AdvertisedAddresses("0.0.0.0");
  ASSERT_FALSE(v4.empty());
  for (const std::string& ip : v4) {
    EXPECT_EQ(LiteralFamily(ip), Family::kIPv4) << ip;
  }
  std::vector<std::string> any = AdvertisedAddresses("::");
  ASSERT_FALSE(any.empty());
  for (const std::string& ip : v4) {
    EXPECT_NE(std::find(any.begin(), any.end(), ip), any.end()) << ip << " also for [::]";
  }
  EXPECT_TRUE(AdvertisedAddresses("no-such-host.invalid").empty());
}

TEST(ListenerTest, BindsEveryAddressOfAName) {
  std::set<std::string> resolved;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  ASSERT_EQ(::getaddrinfo("localhost", nullptr, &hints, &res), 0);
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr =
        a->ai_family == AF_INET6
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr)
            : &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr;
    resolved.insert(::inet_ntop(a->ai_family, addr, buf, sizeof(buf)));
  }
  ::freeaddrinfo(res);

  auto l = Listener::Open("localhost", 0);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_NE(l->port(), 0);
  EXPECT_TRUE(l->loopback_only());
  EXPECT_EQ(l->addresses().size(), resolved.size());
  for (const std::string& ip : resolved) {
    auto c = Connect(ip, l->port(), 2000);
    ASSERT_TRUE(c.ok()) << ip << ": " << c.status().ToString();
    auto accepted = l->Accept(2000);
    ASSERT_TRUE(accepted.ok());
    EXPECT_TRUE(accepted->valid()) << ip;
  }
}

TEST(ListenerTest, WildcardIsDualStack) {
  if (!HasIPv6Loopback()) {
    GTEST_SKIP() << "no IPv6 here";
  }
  auto l = Listener::Open("::", 0);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_FALSE(l->loopback_only());
  ASSERT_EQ(l->sockets().size(), 1u);
  for (const char* ip : {"127.0.0.1", "::1"}) {
    auto c = Connect(ip, l->port(), 2000);
    ASSERT_TRUE(c.ok()) << ip << ": " << c.status().ToString();
    auto accepted = l->Accept(2000);
    ASSERT_TRUE(accepted.ok() && accepted->valid()) << ip;
  }
  auto v4 = Listener::Open("0.0.0.0", 0);
  ASSERT_TRUE(v4.ok());
  EXPECT_FALSE(Connect("::1", v4->port(), 2000).ok()) << "0.0.0.0 is IPv4 only";
}

TEST(ListenerTest, PortInUseNamesTheAddress) {
  auto a = Listener::Open("127.0.0.1", 0);
  ASSERT_TRUE(a.ok());
  auto b = Listener::Open("127.0.0.1", a->port());
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("127.0.0.1:" + std::to_string(a->port())), std::string::npos)
      << b.status().message();
  EXPECT_FALSE(Listener::Open("no-such-host.invalid", 0).ok());
}

TEST(ConnectTest, FallsBackToTheNextAddressAndNamesEachFailure) {
  if (!HasIPv6Loopback()) {
    GTEST_SKIP() << "no IPv6 here";
  }
  auto v4 = Listener::Open("127.0.0.1", 0);
  ASSERT_TRUE(v4.ok());
  // IPv6 first (as stock Debian resolves "localhost"), nothing listening there.
  auto c = ConnectAny({"::1", "127.0.0.1"}, v4->port(), ConnectOptions{});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(PeerOf(c->get()), "127.0.0.1:" + std::to_string(v4->port()));

  uint16_t closed = v4->port();
  v4->Close();
  auto refused = ConnectAny({"::1", "127.0.0.1"}, closed, ConnectOptions{});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  const std::string m = refused.status().message();
  EXPECT_NE(m.find("[::1]:" + std::to_string(closed) + ": Connection refused"), std::string::npos)
      << m;
  EXPECT_NE(m.find("127.0.0.1:" + std::to_string(closed) + ": Connection refused"),
            std::string::npos)
      << m;
}

// A listener whose accept queue is full: new connections to it neither complete nor fail.
class Blackhole {
 public:
  explicit Blackhole(const std::string& ip) {
    auto l = Listener::Open(ip, 0, /*backlog=*/0);
    EXPECT_TRUE(l.ok());
    listener_ = std::move(l).value();
    ConnectOptions o;
    o.timeout_ms = 200;
    // Fill the queue until a connection stays pending.
    for (int i = 0; i < 8; ++i) {
      auto c = Connect(ip, listener_.port(), o);
      if (!c.ok()) {
        full_ = c.status().code() == StatusCode::kDeadlineExceeded;
        break;
      }
      held_.push_back(std::move(c).value());
    }
  }
  bool full() const { return full_; }
  uint16_t port() const { return listener_.port(); }

 private:
  Listener listener_;
  std::vector<Fd> held_;
  bool full_ = false;
};

TEST(ConnectTest, StaggersAttemptsWithinOneDeadline) {
  if (!HasIPv6Loopback()) {
    GTEST_SKIP() << "no IPv6 here";
  }
  Blackhole hole("127.0.0.1");
  if (!hole.full()) {
    GTEST_SKIP() << "this kernel completes every connection";
  }
  auto v6 = Listener::Open("::1", hole.port());
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  ConnectOptions o;
  o.timeout_ms = 10000;
  o.attempt_delay_ms = 100;
  // The first address never answers: the second attempt starts after the delay and wins,
  // long before the deadline.
  auto c = ConnectAny({"127.0.0.1", "::1"}, hole.port(), o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(PeerOf(c->get()), "[::1]:" + std::to_string(hole.port()));

  v6->Close();
  o.timeout_ms = 300;
  auto timed_out = ConnectAny({"127.0.0.1"}, hole.port(), o);
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(
      timed_out.status().message().find("127.0.0.1:" + std::to_string(hole.port()) + ": timed out"),
      std::string::npos)
      << timed_out.status().message();
}

TEST(ConnectTest, UnresolvableNameIsAClearError) {
  auto c = Connect("no-such-host.invalid", 80, 2000);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no-such-host.invalid"), std::string::npos);
}

}  // namespace
}  // namespace df::net
