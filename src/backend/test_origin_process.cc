#include "backend/test_origin_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

extern char** environ;

namespace df::backend::testutil {
namespace {

using Clock = std::chrono::steady_clock;

// Waits up to `limit` for `pid` to exit; true if it did (and was reaped).
bool WaitForExit(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = Clock::now() + limit;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

StatusOr<std::unique_ptr<TestOriginProcess>> TestOriginProcess::Start(const std::string& root,
                                                                      const std::string& work_dir) {
  const std::string script = std::string(DF_SOURCE_DIR) + "/tools/test_origin.py";
  const std::string port_file = work_dir + "/origin.port";
  unlink(port_file.c_str());
  std::vector<std::string> args = {"python3",
                                   script,
                                   "--root",
                                   root,
                                   "--port",
                                   "0",
                                   "--bind",
                                   "127.0.0.1",
                                   "--port-file",
                                   port_file,
                                   "--exit-with-parent"};
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "python3", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    return ErrnoError("spawning python3 " + script, rc);
  }
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::ifstream in(port_file);
    int port = 0;
    if (in >> port && port > 0) {
      return std::unique_ptr<TestOriginProcess>(new TestOriginProcess(pid, port));
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return Internal("test origin exited early with status " + std::to_string(status));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  WaitForExit(pid, std::chrono::seconds(5));
  return DeadlineExceeded("test origin did not write " + port_file);
}

bool TestOriginProcess::Alive(std::string* why) {
  if (!exited_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      if (why != nullptr) {
        *why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                   : "exited with code " + std::to_string(WEXITSTATUS(status));
      }
    }
  }
  return !exited_;
}

TestOriginProcess::~TestOriginProcess() {
  if (exited_) {
    return;
  }
  kill(pid_, SIGTERM);
  if (!WaitForExit(pid_, std::chrono::seconds(5))) {
    kill(pid_, SIGKILL);
    WaitForExit(pid_, std::chrono::seconds(5));
  }
}

std::string TestOriginProcess::Url(const std::string& path_and_query) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path_and_query;
}

}  // namespace df::backend::testutil
