// ConnectionAcceptor with real sockets on loopback: the request-header deadline closes an idle
// connection, a connection that sends its header in time is served, and the file-descriptor
// budget is taken and given back.
#include "dragonfly/common/acceptor.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

namespace df::net {
namespace {

// Serves one-line "requests": waits for a line under the deadline, answers "ok\n".
class LineServer {
 public:
  explicit LineServer(std::chrono::milliseconds timeout) {
    auto listener = Listener::Open("127.0.0.1", 0, 16);
    EXPECT_TRUE(listener.ok());
    port_ = listener->port();
    ConnectionAcceptor::Options o;
    o.name = "test";
    o.max_connections = 8;
    o.request_timeout = timeout;
    o.serve = [this](int fd, ConnectionAcceptor* self) {
      while (true) {
        self->AwaitRequest(fd);
        char c = 0;
        std::string line;
        while (::recv(fd, &c, 1, 0) == 1 && c != '\n') {
          line += c;
        }
        self->RequestStarted(fd);
        if (c != '\n') {
          return;  // closed, or shut down at the deadline
        }
        served_++;
        (void)WriteAll(fd, "ok\n", 3);
      }
    };
    acceptor_ = std::make_unique<ConnectionAcceptor>(std::move(listener).value(), std::move(o));
  }
  uint16_t port() const { return port_; }
  int served() const { return served_.load(); }

 private:
  uint16_t port_ = 0;
  std::atomic<int> served_{0};
  std::unique_ptr<ConnectionAcceptor> acceptor_;
};

// Reads until EOF or `timeout`; what arrived, and whether the server closed.
std::pair<std::string, bool> ReadUntilClosed(int fd, int timeout_ms) {
  SetTimeouts(fd, timeout_ms);
  std::string got;
  char buf[64];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) {
      return {got, true};
    }
    if (n < 0) {
      return {got, false};  // timed out: still open
    }
    got.append(buf, static_cast<size_t>(n));
  }
}

TEST(ConnectionAcceptorTest, AnIdleConnectionIsClosedAtTheHeaderDeadline) {
  LineServer server(std::chrono::milliseconds(300));
  const uint64_t budget_before = FdBudget::in_use();
  auto idle = Connect("127.0.0.1", server.port(), 5000);
  ASSERT_TRUE(idle.ok());
  auto [got, closed] = ReadUntilClosed(idle->get(), 10000);
  EXPECT_TRUE(closed) << "the server kept an idle connection open past its deadline";
  EXPECT_EQ(got, "");
  // A client that sends requests in time is served, keep-alive included; then, idle, closed.
  auto busy = Connect("127.0.0.1", server.port(), 5000);
  ASSERT_TRUE(busy.ok());
  ASSERT_TRUE(WriteAll(busy->get(), "a\nb\n", 4).ok());
  auto [answers, closed_after] = ReadUntilClosed(busy->get(), 10000);
  EXPECT_EQ(answers, "ok\nok\n");
  EXPECT_TRUE(closed_after);
  EXPECT_EQ(server.served(), 2);
  // Every connection gave its budget unit back.
  for (int i = 0; i < 100 && FdBudget::in_use() != budget_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the release
  }
  EXPECT_EQ(FdBudget::in_use(), budget_before);
}

TEST(FdBudgetTest, ConnectionsStopAQuarterBelowTheLimit) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 1024) {
    GTEST_SKIP() << "hard open-files limit below 1024";
  }
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const uint64_t in_use = FdBudget::in_use();
  EXPECT_EQ(FdBudget::capacity(), 1024u - 256u);
  uint64_t taken = 0;
  while (FdBudget::Acquire()) {
    taken++;
    ASSERT_LE(taken, 1024u);
  }
  EXPECT_EQ(in_use + taken, 1024u - 256u);
  for (uint64_t i = 0; i < taken; ++i) {
    FdBudget::Release();
  }
  EXPECT_EQ(FdBudget::in_use(), in_use);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

}  // namespace
}  // namespace df::net
