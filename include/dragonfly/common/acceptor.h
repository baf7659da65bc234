// ConnectionAcceptor: accepts TCP connections on a thread of its own and serves each on a
// thread of its own (the dfdaemon proxy, the manager's REST API).
//
// At most `max_connections` are served at once; beyond that `busy(fd)` (optional) may answer
// before the connection is closed. When `serve(fd)` returns, the connection ends with a lingering
// shutdown (a peer still sending a request we refused reads our answer instead of a reset) and
// is closed under the acceptor's lock, so a reused fd number is never mistaken for it. Stop()
// stops accepting, shuts the open connections down and waits for every serve() to return.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
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
    std::function<void(int fd)> serve;  // must not close fd
    std::function<void(int fd)> busy;   // optional: answer a connection over the limit
  };

  ConnectionAcceptor(Listener listener, Options options);
  ~ConnectionAcceptor();
  ConnectionAcceptor(const ConnectionAcceptor&) = delete;
  ConnectionAcceptor& operator=(const ConnectionAcceptor&) = delete;

  void Stop();

 private:
  void AcceptLoop();
  void Release(int fd);  // forgets and closes a connection

  Listener listener_;
  Options options_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> fds_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace df::net
