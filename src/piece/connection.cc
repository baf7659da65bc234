#include "piece/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>

#include "dragonfly/common/net.h"
#include "dragonfly/piece/piece_protocol.h"
#include "piece/wire.h"

namespace df::piece {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// How long to keep reading (and discarding) after the last response before closing, so
// unread pipelined requests do not turn the close into a reset that loses that response.
constexpr milliseconds kLingerTime{500};
// GET_MAP long polls wait in slices so Stop() and a vanished client are noticed.
constexpr milliseconds kWaitSlice{100};

struct Request {
  uint8_t type = 0;
  std::string task_id;
  uint32_t number = 0;
  uint64_t known_version = 0;
  uint32_t wait_ms = 0;
};

enum class ReadResult { kOk, kClosed, kMalformed };

// Half-closes `fd` and discards input until EOF or kLingerTime passes.
void LingerBeforeClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = Clock::now() + kLingerTime;
  char scratch[4096];
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return;
    }
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc <= 0 || ::recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) <= 0) {
      return;
    }
  }
}

// True when the peer has closed its end (or the socket failed).
bool PeerGone(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

Status PreadFull(int fd, char* buf, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError("pread", errno);
    }
    if (r == 0) {
      return DataLoss("pread: data file shorter than expected");
    }
    buf += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return Status::Ok();
}

class Handler {
 public:
  Handler(int fd, const ServeContext& ctx) : fd_(fd), ctx_(ctx), opts_(*ctx.options) {}

  void Run() {
    while (!ctx_.stop->stopped()) {
      Request req;
      ReadResult r = ReadRequest(&req);
      if (r == ReadResult::kClosed) {
        return;
      }
      if (r == ReadResult::kMalformed) {
        std::string msg = req.type == kGetPiece || req.type == kGetMap
                              ? "empty task id"
                              : "unknown request type " + std::to_string(req.type);
        if (SendError(req.type, kBadRequest, msg).ok()) {
          LingerBeforeClose(fd_);
        }
        return;
      }
      Status s = req.type == kGetPiece ? ServePiece(req) : ServeMap(req);
      if (!s.ok()) {
        return;  // the stream is out of sync or the socket failed: drop the connection
      }
    }
  }

 private:
  ReadResult ReadRequest(Request* req) {
    char start[2];
    if (!net::ReadFull(fd_, start, sizeof(start)).ok()) {
      return ReadResult::kClosed;
    }
    req->type = static_cast<uint8_t>(start[0]);
    auto id_len = static_cast<uint8_t>(start[1]);
    if ((req->type != kGetPiece && req->type != kGetMap) || id_len == 0) {
      return ReadResult::kMalformed;
    }
    size_t body_len = req->type == kGetPiece ? wire::kGetPieceBodySize : wire::kGetMapBodySize;
    std::string buf(id_len + body_len, '\0');
    if (!net::ReadFull(fd_, buf.data(), buf.size()).ok()) {
      return ReadResult::kClosed;
    }
    req->task_id.assign(buf.data(), id_len);
    const char* body = buf.data() + id_len;
    if (req->type == kGetPiece) {
      req->number = wire::LoadU32(body);
    } else {
      req->known_version = wire::LoadU64(body);
      req->wait_ms = wire::LoadU32(body + 8);
    }
    return ReadResult::kOk;
  }

  std::shared_ptr<storage::Task> Lookup(const std::string& task_id) {
    return opts_.lookup ? opts_.lookup(task_id) : nullptr;
  }

  Status SendError(uint8_t type, uint8_t code, const std::string& message) {
    std::string out = wire::EncodeError(type, code, message);
    return wire::SendAll(fd_, out.data(), out.size(), false);
  }

  Status ServePiece(const Request& req) {
    std::shared_ptr<storage::Task> task = Lookup(req.task_id);
    if (!task) {
      return SendError(kGetPiece, kTaskNotFound, "task " + req.task_id + " not found");
    }
    const uint32_t n = req.number;
    if (!task->HasPiece(n)) {
      return SendError(kGetPiece, kPieceNotAvailable,
                       "piece " + std::to_string(n) + " of task " + req.task_id + " not available");
    }
    const uint32_t piece_length = task->Map().piece_length;
    if (piece_length == 0) {
      return SendError(kGetPiece, kInternalError, "task " + req.task_id + " has no geometry");
    }
    const uint64_t offset = static_cast<uint64_t>(n) * piece_length;
    const uint32_t length = task->PieceSize(n);
    const uint32_t crc = task->PieceCrc(n);

    std::unique_ptr<char[]> corrupted;
    if (opts_.corrupt_for_test && opts_.corrupt_for_test(req.task_id, n)) {
      corrupted = std::make_unique<char[]>(std::max<uint32_t>(length, 1));
      Status s = PreadFull(task->read_fd(), corrupted.get(), length, offset);
      if (!s.ok()) {
        return SendError(kGetPiece, kInternalError, s.ToString());
      }
      for (uint32_t i : {0u, length / 2, length - 1}) {
        if (i < length) {
          corrupted[i] = static_cast<char>(corrupted[i] ^ 0x5a);
        }
      }
    }

    std::string header = wire::EncodePieceHeader(n, length, crc);
    DF_RETURN_IF_ERROR(wire::SendAll(fd_, header.data(), header.size(), length > 0));
    DF_RETURN_IF_ERROR(SendBody(task->read_fd(), offset, corrupted.get(), length));
    if (opts_.on_piece_sent) {
      opts_.on_piece_sent(req.task_id, length);
    }
    return Status::Ok();
  }

  // Sends `length` bytes from `mem`, or (mem == nullptr) from `file_fd` at `offset`, in
  // rate-limited chunks.
  Status SendBody(int file_fd, uint64_t offset, const char* mem, uint32_t length) {
    const uint64_t chunk = ctx_.bucket != nullptr ? ctx_.bucket->chunk_size() : length;
    uint64_t sent = 0;
    while (sent < length) {
      auto n = static_cast<size_t>(std::min<uint64_t>(chunk, length - sent));
      if (ctx_.bucket != nullptr) {
        auto delay = ctx_.bucket->Reserve(n);
        if (delay.count() > 0 && ctx_.stop->WaitFor(delay)) {
          return Cancelled("piece server stopping");
        }
      }
      Status s = mem != nullptr ? wire::SendAll(fd_, mem + sent, n, false)
                                : net::SendFile(fd_, file_fd, offset + sent, n);
      DF_RETURN_IF_ERROR(s);
      sent += n;
    }
    return Status::Ok();
  }

  Status ServeMap(const Request& req) {
    std::shared_ptr<storage::Task> task = Lookup(req.task_id);
    if (!task) {
      return SendError(kGetMap, kTaskNotFound, "task " + req.task_id + " not found");
    }
    auto deadline = Clock::now() + milliseconds(std::min(req.wait_ms, wire::kMaxMapWaitMs));
    while (!task->done()) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        break;
      }
      if (task->WaitForChange(req.known_version, std::min(left, kWaitSlice)) > req.known_version) {
        break;
      }
      if (ctx_.stop->stopped()) {
        return Cancelled("piece server stopping");
      }
      if (PeerGone(fd_)) {
        return Unavailable("peer closed the connection");
      }
    }
    std::string out = wire::EncodeMap(task->Map());
    return wire::SendAll(fd_, out.data(), out.size(), false);
  }

  const int fd_;
  const ServeContext& ctx_;
  const PieceServerOptions& opts_;
};

}  // namespace

void ServeConnection(int fd, const ServeContext& ctx) { Handler(fd, ctx).Run(); }

void RejectBusy(int fd, int io_timeout_ms) {
  net::SetTimeouts(fd, io_timeout_ms > 0 ? std::min(io_timeout_ms, 2000) : 2000);
  char type = 0;
  if (!net::ReadFull(fd, &type, 1).ok()) {
    return;
  }
  std::string out = wire::EncodeError(static_cast<uint8_t>(type), kBusy,
                                      "piece server busy: too many connections");
  if (wire::SendAll(fd, out.data(), out.size(), false).ok()) {
    LingerBeforeClose(fd);
  }
}

}  // namespace df::piece
