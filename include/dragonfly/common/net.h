// Small socket helpers shared by the piece server, piece client and status server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

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

// Listens on address:port (port 0 = ephemeral) with SO_REUSEADDR.
// "host:port" -> (host, port); IPv6 as "[::1]:4000" (brackets removed).
StatusOr<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& addr);

StatusOr<Fd> Listen(const std::string& address, uint16_t port, int backlog = 1024);
StatusOr<uint16_t> LocalPort(int fd);
// Connects with a timeout; sets TCP_NODELAY.
StatusOr<Fd> Connect(const std::string& host, uint16_t port, int timeout_ms);
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
