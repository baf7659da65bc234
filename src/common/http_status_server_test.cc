#include "dragonfly/common/http_status_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dragonfly/common/net.h"

namespace df {
namespace {

int Dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// The answer to one GET, read with a receive timeout far below what the idle clients below
// would cost a server that serves one connection at a time (2 s each before).
std::string Get(uint16_t port, const std::string& path) {
  int fd = Dial(port);
  net::SetTimeouts(fd, 1500);
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_TRUE(net::WriteAll(fd, req.data(), req.size()).ok());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST(HttpStatusServerTest, IdleAndTricklingClientsDoNotStallProbes) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto server = StartHttpStatusServer("127.0.0.1", 0, registry);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  uint16_t port = (*server)->port();
  std::vector<int> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(Dial(port));
    if (i % 2 == 0) {
      ASSERT_EQ(::send(idle.back(), "GET /metr", 9, 0), 9);  // never finishes its request
    }
  }
  std::string healthy = Get(port, "/healthy");
  EXPECT_NE(healthy.find("200 OK"), std::string::npos) << healthy;
  EXPECT_NE(Get(port, "/metrics").find("200 OK"), std::string::npos);
  // Past the connection limit a client is told so at once.
  for (int i = 0; i < 64; ++i) {
    idle.push_back(Dial(port));
  }
  std::string busy = Get(port, "/healthy");
  EXPECT_NE(busy.find("503"), std::string::npos) << busy;
  for (int fd : idle) {
    ::close(fd);
  }
  (*server)->Stop();
}

}  // namespace
}  // namespace df
