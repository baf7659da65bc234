// Test helper: runs tools/test_origin.py as a child process serving a directory on 127.0.0.1.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "dragonfly/common/status.h"

namespace df::backend::testutil {

class TestOriginProcess {
 public:
  // Starts the origin serving `root`; waits (bounded) until it has written its port.
  // `work_dir` receives the port file and must exist.
  static StatusOr<std::unique_ptr<TestOriginProcess>> Start(const std::string& root,
                                                            const std::string& work_dir);
  ~TestOriginProcess();  // SIGTERM, then SIGKILL if it does not exit in time

  TestOriginProcess(const TestOriginProcess&) = delete;
  TestOriginProcess& operator=(const TestOriginProcess&) = delete;

  int port() const { return port_; }
  // False once the process has exited (it is reaped then; exit status in the message).
  bool Alive(std::string* why = nullptr);
  // "http://127.0.0.1:PORT" + path_and_query (which starts with '/').
  std::string Url(const std::string& path_and_query) const;

 private:
  TestOriginProcess(pid_t pid, int port) : pid_(pid), port_(port) {}

  pid_t pid_;
  int port_;
  bool exited_ = false;
};

}  // namespace df::backend::testutil
