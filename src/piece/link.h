// Link: one neighbour connection on the engine's network thread. Reads frames and hands them to
// its task's Exchange; writes control frames (HAVE, REQUEST, ...) ahead of queued piece bodies,
// never inside one; sends bodies with non-blocking sendfile(2), rate-limited by the host's token
// bucket. Internal to df_piece.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "piece/exchange.h"
#include "piece/frame.h"
#include "piece/token_bucket.h"

namespace df::piece {

namespace asio = boost::asio;

class Link;

// What a link needs from the engine that owns it.
class LinkOwner {
 public:
  virtual ~LinkOwner() = default;
  // A HELLO arrived: on an accepted connection (`inbound`) the engine finds the task and answers;
  // on one we opened, it is the neighbour's answer. The engine attaches the link to the task's
  // exchange or closes it.
  virtual void OnHello(const std::shared_ptr<Link>& link, const frame::Hello& hello,
                       bool inbound) = 0;
  // The link is closed (after its exchange was told).
  virtual void OnClosed(Link* link) = 0;
  virtual TokenBucket* bucket() = 0;
  virtual void PieceSent(uint64_t bytes) = 0;
  virtual bool CorruptForTest(const std::string& task_id, uint32_t piece) = 0;
  virtual std::chrono::milliseconds write_stall_timeout() const = 0;
};

class Link final : public NeighbourLink, public std::enable_shared_from_this<Link> {
 public:
  Link(LinkOwner* owner, LinkId id, asio::ip::tcp::socket socket, bool inbound);
  ~Link() override;

  LinkId id() const { return id_; }
  bool inbound() const { return inbound_; }
  const std::string& task_id() const { return task_id_; }
  const std::string& peer_id() const { return peer_.peer_id; }
  const frame::Hello& peer() const { return peer_; }

  // Starts reading; an outbound link first sends `hello`. The handshake must finish within
  // `timeout` or the link closes.
  void Start(const frame::Hello* hello, std::chrono::milliseconds timeout);
  // Attaches to the task's exchange after the handshake (and sends `reply` first, if any).
  void Attach(Exchange* exchange, std::shared_ptr<storage::Task> task, const frame::Hello& peer,
              const frame::Hello* reply);
  // Sends an ERROR and closes once it is out.
  void Refuse(ErrorCode code, const std::string& message);

  // NeighbourLink.
  void SendBitfield(const frame::Bitfield& b) override;
  void SendGeometry(const frame::Geometry& g) override;
  void SendHave(uint32_t piece) override;
  void SendRequest(uint32_t piece) override;
  void SendCancel(uint32_t piece) override;
  void SendReject(const frame::Reject& r) override;
  void SendPiece(uint32_t piece, uint32_t crc, uint32_t length, uint64_t offset) override;
  void Close(const Status& why) override;
  std::chrono::milliseconds idle_for(Clock::time_point now) const override;

 private:
  struct PieceSend {
    uint32_t piece = 0;
    std::string head;  // frame header + piece number + crc
    uint64_t offset = 0;
    uint32_t length = 0;
    uint32_t sent = 0;    // body bytes out
    uint32_t budget = 0;  // bytes reserved from the token bucket, not sent yet
    bool head_out = false;
    std::string memory;  // the body from memory instead of the file (corrupt_for_test)
  };

  void ReadHeader();
  void ReadPayload(FrameType type, uint32_t len);
  void ReadPiece(uint32_t len);
  void PieceRead();
  template <typename Then>
  auto Completion(const char* op, Then then);
  void Dispatch(FrameType type, std::string payload);
  void Queue(std::string frame);
  void Pump();
  void SendBody();
  // While a write is under way, a timer checks that bytes still leave (write_progress_).
  void WriteStarted();
  void CheckWriteStall();
  // Closes the socket and tells the exchange (`notify`) and the owner.
  void Shutdown(const Status& why, bool notify);

  LinkOwner* owner_;
  const LinkId id_;
  asio::ip::tcp::socket socket_;
  const bool inbound_;
  asio::steady_timer timer_;  // handshake deadline, then rate-limit waits
  asio::steady_timer stall_timer_;
  bool stall_check_armed_ = false;
  Clock::time_point write_progress_;  // the last time bytes of ours left
  Exchange* exchange_ = nullptr;
  std::shared_ptr<storage::Task> task_;
  std::string task_id_;
  frame::Hello peer_;
  bool closed_ = false;
  bool close_after_write_ = false;
  bool writing_ = false;
  char header_[frame::kHeaderSize] = {};
  char piece_head_[8] = {};  // a PIECE frame's piece number and CRC
  std::string payload_;
  std::deque<std::string> control_;
  std::deque<PieceSend> pieces_;
  Clock::time_point last_read_;
};

}  // namespace df::piece
