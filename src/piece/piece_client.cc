#include "dragonfly/piece/piece_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <deque>

#include "dragonfly/common/net.h"
#include "dragonfly/piece/piece_protocol.h"
#include "piece/wire.h"

namespace df::piece {
namespace {

constexpr int kSocketBufferBytes = 4 << 20;

class Connection final : public PieceConnection {
 public:
  Connection(net::Fd fd, int io_timeout_ms) : fd_(std::move(fd)), io_timeout_ms_(io_timeout_ms) {}

  Status RequestPiece(const std::string& task_id, uint32_t number) override {
    DF_ASSIGN_OR_RETURN(std::string req, wire::EncodePieceRequest(task_id, number));
    return Send(req);
  }

  Status RequestMap(const std::string& task_id, uint64_t known_version, uint32_t wait_ms) override {
    DF_ASSIGN_OR_RETURN(std::string req, wire::EncodeMapRequest(task_id, known_version, wait_ms));
    DF_RETURN_IF_ERROR(Send(req));
    map_waits_.push_back(std::min(wait_ms, wire::kMaxMapWaitMs));
    return Status::Ok();
  }

  StatusOr<PieceHeader> ReadPieceHeader() override {
    DF_RETURN_IF_ERROR(ReadResponseStart(kGetPiece));
    char buf[wire::kPieceHeaderSize];
    DF_RETURN_IF_ERROR(Read(buf, sizeof(buf)));
    PieceHeader h;
    h.number = wire::LoadU32(buf);
    h.length = wire::LoadU32(buf + 4);
    h.crc = wire::LoadU32(buf + 8);
    body_left_ = h.length;
    return h;
  }

  Status ReadBody(char* buf, uint32_t len) override {
    DF_RETURN_IF_ERROR(broken_);
    if (len > body_left_) {
      return InvalidArgument("ReadBody: " + std::to_string(len) + " bytes asked, " +
                             std::to_string(body_left_) + " left in the piece");
    }
    DF_RETURN_IF_ERROR(Read(buf, len));
    body_left_ -= len;
    return Status::Ok();
  }

  StatusOr<storage::PieceMap> ReadMap() override {
    DF_RETURN_IF_ERROR(CheckReadable());
    // The server may hold the answer for the request's wait time: extend the receive timeout.
    uint32_t wait_ms = 0;
    if (!map_waits_.empty()) {
      wait_ms = map_waits_.front();
      map_waits_.pop_front();
    }
    bool extend = io_timeout_ms_ > 0 && wait_ms > 0;
    if (extend) {
      net::SetTimeouts(fd_.get(), io_timeout_ms_ + static_cast<int>(wait_ms));
    }
    StatusOr<storage::PieceMap> map = ReadMapResponse();
    if (extend) {
      net::SetTimeouts(fd_.get(), io_timeout_ms_);
    }
    return map;
  }

 private:
  StatusOr<storage::PieceMap> ReadMapResponse() {
    DF_RETURN_IF_ERROR(ReadResponseStart(kGetMap));
    char buf[wire::kMapFixedSize];
    DF_RETURN_IF_ERROR(Read(buf, sizeof(buf)));
    storage::PieceMap map;
    uint32_t bitmap_len = wire::DecodeMapFixed(buf, &map);
    if (bitmap_len > wire::kMaxBitmapLen) {
      return Break(Internal("piece protocol: bitmap of " + std::to_string(bitmap_len) +
                            " bytes is too large"));
    }
    map.bitmap.resize(bitmap_len);
    DF_RETURN_IF_ERROR(Read(map.bitmap.data(), bitmap_len));
    return map;
  }

  Status Send(const std::string& req) {
    DF_RETURN_IF_ERROR(broken_);
    Status s = wire::SendAll(fd_.get(), req.data(), req.size(), false);
    return s.ok() ? s : Break(s);
  }

  Status Read(void* buf, size_t n) {
    Status s = net::ReadFull(fd_.get(), buf, n);
    return s.ok() ? s : Break(s);
  }

  // Marks the connection unusable: every later call fails with `s`.
  Status Break(Status s) {
    broken_ = s;
    return s;
  }

  Status CheckReadable() const {
    DF_RETURN_IF_ERROR(broken_);
    if (body_left_ > 0) {
      return FailedPrecondition("the previous piece body was not fully read");
    }
    return Status::Ok();
  }

  // Reads type and code of the next response. For an error code, consumes the message and
  // returns the mapped Status.
  Status ReadResponseStart(uint8_t expected_type) {
    DF_RETURN_IF_ERROR(CheckReadable());
    char start[wire::kResponseStartSize];
    DF_RETURN_IF_ERROR(Read(start, sizeof(start)));
    auto type = static_cast<uint8_t>(start[0]);
    auto code = static_cast<uint8_t>(start[1]);
    std::string message;
    if (code != kOk) {
      char len_buf[2];
      DF_RETURN_IF_ERROR(Read(len_buf, sizeof(len_buf)));
      message.resize(wire::LoadU16(len_buf));
      DF_RETURN_IF_ERROR(Read(message.data(), message.size()));
    }
    if (code == kBusy || code == kBadRequest) {  // answers whatever was asked; server closes
      broken_ = Unavailable("piece server closed the connection: " + message);
      return wire::ErrorCodeToStatus(code, message);
    }
    if (type != expected_type) {
      return Break(Internal("piece protocol: response type " + std::to_string(type) +
                            ", expected " + std::to_string(expected_type)));
    }
    return code == kOk ? Status::Ok() : wire::ErrorCodeToStatus(code, message);
  }

  net::Fd fd_;
  const int io_timeout_ms_;
  Status broken_;
  uint32_t body_left_ = 0;
  std::deque<uint32_t> map_waits_;  // wait_ms of map requests not yet answered, in order
};

}  // namespace

StatusOr<std::unique_ptr<PieceConnection>> ConnectPiece(const std::vector<std::string>& ips,
                                                        uint16_t port, int connect_timeout_ms,
                                                        int io_timeout_ms) {
  net::ConnectOptions o;
  o.timeout_ms = connect_timeout_ms;
  DF_ASSIGN_OR_RETURN(net::Fd fd, net::ConnectAny(ips, port, o));
  net::SetBufferSizes(fd.get(), kSocketBufferBytes);
  net::SetTimeouts(fd.get(), io_timeout_ms);
  return std::unique_ptr<PieceConnection>(new Connection(std::move(fd), io_timeout_ms));
}

}  // namespace df::piece
