#include "daemon/health.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace df::daemon {

Status StorageWritable(const std::string& dir) {
  const std::string probe = dir + "/.health-probe";
  int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable("storage directory " + dir + " is not writable: " + std::strerror(errno));
  }
  const char byte = 0;
  bool ok = ::write(fd, &byte, 1) == 1;
  int saved = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (!ok) {
    return Unavailable("storage directory " + dir + " cannot be written: " + std::strerror(saved));
  }
  return Status::Ok();
}

Status SchedulerReachable(bool enabled, std::chrono::steady_clock::time_point last_ok,
                          std::chrono::steady_clock::time_point now,
                          std::chrono::milliseconds grace) {
  if (!enabled || now - last_ok <= grace) {
    return Status::Ok();
  }
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - last_ok).count();
  return Unavailable("no scheduler has taken this host's announcement for " + std::to_string(s) +
                     " s");
}

}  // namespace df::daemon
