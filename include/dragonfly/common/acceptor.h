// ConnectionAcceptor: accepts TCP connections on a thread of its own and serves each on a
// thread of its own (the dfdaemon proxy, the manager's REST API).
//
// At most `max_connections` are served at once; beyond that `busy(fd)` (optional) may answer
// before the connection is closed. When `serve` returns, the connection ends with a lingering
// shutdown (a peer still sending a request we refused reads our answer instead of a reset) and
// is closed under the acceptor's lock, so a reused fd number is never mistaken for it. Stop()
// stops accepting, shuts the open connections down and waits for every serve() to return.
//
// Each connection also takes a unit of the process's FdBudget; without one it is refused like
// one over the limit. Slow or idle clients (slowloris): serve() calls AwaitRequest(fd) before it
// reads a request's header and RequestStarted(fd) once the header is in; a connection that
// waits longer than `request_timeout` for a header (idle keep-alive included) is shut down,
// which ends serve()'s blocking read.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "dragonfly/common/net.h"

namespace df::net {

class ConnectionAcceptor {
 public:
  struct Options {
    std::string name;  // for log lines
    uint32_t max_connections = 1024;
    // Serves a connection; must not close fd. `self` is this acceptor (for AwaitRequest).
    std::function<void(int fd, ConnectionAcceptor* self)> serve;
    std::function<void(int fd)> busy;  // optional: answer a connection over the limit
    std::chrono::milliseconds request_timeout{30000};
    // Descriptors a served connection holds (FdBudget units): its socket, plus e.g. an Asio
    // io_context's epoll, eventfd and timerfd, plus upstream connections and files.
    uint32_t fds_per_connection = 1;
  };

  ConnectionAcceptor(Listener listener, Options options);
  ~ConnectionAcceptor();
  ConnectionAcceptor(const ConnectionAcceptor&) = delete;
  ConnectionAcceptor& operator=(const ConnectionAcceptor&) = delete;

  void Stop();

  // The next request's header must arrive within request_timeout from now.
  void AwaitRequest(int fd);
  // The header arrived: no deadline while the request is served.
  void RequestStarted(int fd);

 private:
  void AcceptLoop();
  void Release(int fd);  // forgets and closes a connection
  void ExpireDeadlines();

  Listener listener_;
  Options options_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> fds_;
  std::map<int, std::chrono::steady_clock::time_point> deadlines_;  // armed connections
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace df::net
