#include "piece/link.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>

namespace df::piece {

using std::chrono::milliseconds;

Link::Link(LinkOwner* owner, LinkId id, asio::ip::tcp::socket socket, bool inbound)
    : owner_(owner),
      id_(id),
      socket_(std::move(socket)),
      inbound_(inbound),
      timer_(socket_.get_executor()),
      stall_timer_(socket_.get_executor()),
      last_read_(Clock::now()) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

Link::~Link() = default;

void Link::Start(const frame::Hello* hello, milliseconds timeout) {
  if (hello != nullptr) {
    task_id_ = hello->task_id;
    Queue(frame::EncodeHello(*hello));
  }
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && self->exchange_ == nullptr && !self->closed_) {
      self->Shutdown(DeadlineExceeded("no piece-protocol handshake in time"), false);
    }
  });
  ReadHeader();
}

void Link::Attach(Exchange* exchange, std::shared_ptr<storage::Task> task, const frame::Hello& peer,
                  const frame::Hello* reply) {
  timer_.cancel();
  peer_ = peer;
  task_id_ = peer.task_id;
  task_ = std::move(task);
  if (reply != nullptr) {
    Queue(frame::EncodeHello(*reply));
  }
  exchange_ = exchange;
  spdlog::debug("piece link open task_id={} peer={} inbound={}", task_id_, peer.peer_id, inbound_);
  exchange_->AddNeighbour(id_, this, peer);
}

void Link::Refuse(ErrorCode code, const std::string& message) {
  Queue(frame::EncodeError({code, message}));
  close_after_write_ = true;
}

// The completion handler of an asynchronous read, write or wait: runs `then` unless the link
// closed meanwhile; a failed operation closes the link.
template <typename Then>
auto Link::Completion(const char* op, Then then) {
  return [self = shared_from_this(), op, then = std::move(then)](
             const boost::system::error_code& ec, auto&&...) mutable {
    if (self->closed_) {
      return;
    }
    if (ec) {
      self->Shutdown(
          Unavailable(ec == asio::error::eof ? std::string("neighbour closed the connection")
                                             : std::string(op) + ": " + ec.message()),
          true);
      return;
    }
    then(*self);
  };
}

void Link::ReadHeader() {
  if (closed_) {
    return;
  }
  asio::async_read(socket_, asio::buffer(header_, sizeof(header_)), Completion("read", [](Link& l) {
                     l.last_read_ = Clock::now();
                     FrameType type{};
                     uint32_t len = 0;
                     if (Status s = frame::DecodeHeader(l.header_, &type, &len); !s.ok()) {
                       l.Refuse(ErrorCode::kBadRequest, s.message());
                       l.Shutdown(s, true);
                       return;
                     }
                     l.ReadPayload(type, len);
                   }));
}

void Link::ReadPayload(FrameType type, uint32_t len) {
  if (type == FrameType::kPiece) {
    ReadPiece(len);
    return;
  }
  payload_.resize(len);
  asio::async_read(socket_, asio::buffer(payload_), Completion("read", [type](Link& l) {
                     l.last_read_ = Clock::now();
                     l.Dispatch(type, std::move(l.payload_));
                     l.payload_.clear();
                     l.ReadHeader();
                   }));
}

// A PIECE frame: its 8-byte head, then the body straight into its own buffer (no copy).
void Link::ReadPiece(uint32_t len) {
  if (len < 8) {
    Shutdown(InvalidArgument("protocol violation: short PIECE frame"), true);
    return;
  }
  asio::async_read(socket_, asio::buffer(piece_head_, sizeof(piece_head_)),
                   Completion("read", [len](Link& l) {
                     l.payload_.resize(len - 8);
                     asio::async_read(l.socket_, asio::buffer(l.payload_),
                                      l.Completion("read", [](Link& l2) { l2.PieceRead(); }));
                   }));
}

void Link::PieceRead() {
  last_read_ = Clock::now();
  if (exchange_ == nullptr) {
    Shutdown(InvalidArgument("protocol violation: frame before the handshake"), true);
    return;
  }
  uint32_t n = frame::LoadU32(piece_head_);
  uint32_t crc = frame::LoadU32(piece_head_ + 4);
  exchange_->OnPiece(id_, n, crc, std::move(payload_));
  payload_.clear();
  ReadHeader();
}

void Link::Dispatch(FrameType type, std::string payload) {
  auto violation = [&](const Status& s) { Shutdown(s.Annotate("protocol violation"), true); };
  if (type == FrameType::kError) {
    StatusOr<frame::Error> e = frame::DecodeError(payload);
    Shutdown(Unavailable("neighbour refused: " + (e.ok() ? e->message : std::string("?"))), true);
    return;
  }
  if (type == FrameType::kHello) {
    StatusOr<frame::Hello> h = frame::DecodeHello(payload);
    if (!h.ok() || exchange_ != nullptr) {
      violation(h.ok() ? InvalidArgument("second HELLO") : h.status());
      return;
    }
    if (!inbound_ && h->task_id != task_id_) {
      violation(InvalidArgument("HELLO for another task"));
      return;
    }
    owner_->OnHello(shared_from_this(), *h, inbound_);
    return;
  }
  if (exchange_ == nullptr) {
    violation(InvalidArgument("frame before the handshake"));
    return;
  }
  switch (type) {
    case FrameType::kBitfield: {
      StatusOr<frame::Bitfield> b = frame::DecodeBitfield(payload);
      b.ok() ? exchange_->OnBitfield(id_, *b) : violation(b.status());
      return;
    }
    case FrameType::kGeometry: {
      StatusOr<frame::Geometry> g = frame::DecodeGeometry(payload);
      g.ok() ? exchange_->OnGeometry(id_, *g) : violation(g.status());
      return;
    }
    case FrameType::kHave:
    case FrameType::kRequest:
    case FrameType::kCancel: {
      StatusOr<uint32_t> n = frame::DecodePieceNumber(payload);
      if (!n.ok()) {
        violation(n.status());
      } else if (type == FrameType::kHave) {
        exchange_->OnHave(id_, *n);
      } else if (type == FrameType::kRequest) {
        exchange_->OnRequest(id_, *n);
      } else {
        exchange_->OnCancel(id_, *n);
      }
      return;
    }
    case FrameType::kReject: {
      StatusOr<frame::Reject> r = frame::DecodeReject(payload);
      r.ok() ? exchange_->OnReject(id_, *r) : violation(r.status());
      return;
    }
    default:
      violation(InvalidArgument("unexpected frame"));
  }
}

void Link::Queue(std::string f) {
  if (closed_) {
    return;
  }
  control_.push_back(std::move(f));
  Pump();
}

void Link::SendBitfield(const frame::Bitfield& b) { Queue(frame::EncodeBitfield(b)); }
void Link::SendGeometry(const frame::Geometry& g) { Queue(frame::EncodeGeometry(g)); }
void Link::SendHave(uint32_t n) { Queue(frame::EncodePieceNumber(FrameType::kHave, n)); }
void Link::SendRequest(uint32_t n) { Queue(frame::EncodePieceNumber(FrameType::kRequest, n)); }
void Link::SendCancel(uint32_t n) { Queue(frame::EncodePieceNumber(FrameType::kCancel, n)); }
void Link::SendReject(const frame::Reject& r) { Queue(frame::EncodeReject(r)); }

void Link::SendPiece(uint32_t piece, uint32_t crc, uint32_t length, uint64_t offset) {
  if (closed_) {
    return;
  }
  PieceSend p;
  p.piece = piece;
  p.head = frame::EncodePieceHeader(piece, crc, length);
  p.offset = offset;
  p.length = length;
  if (owner_->CorruptForTest(task_id_, piece)) {
    p.memory.resize(length);
    if (::pread(task_->read_fd(), p.memory.data(), length, static_cast<off_t>(offset)) ==
        static_cast<ssize_t>(length)) {
      for (uint32_t i : {0u, length / 2, length - 1}) {
        p.memory[i] = static_cast<char>(p.memory[i] ^ 0x5a);
      }
    }
  }
  pieces_.push_back(std::move(p));
  Pump();
}

void Link::Pump() {
  if (writing_ || closed_) {
    return;
  }
  bool body_under_way = !pieces_.empty() && pieces_.front().head_out;
  if (!control_.empty() && !body_under_way) {
    WriteStarted();
    asio::async_write(socket_, asio::buffer(control_.front()), Completion("write", [](Link& l) {
                        l.write_progress_ = Clock::now();
                        l.writing_ = false;
                        l.control_.pop_front();
                        if (l.close_after_write_ && l.control_.empty()) {
                          l.Shutdown(Cancelled("refused"), true);
                          return;
                        }
                        l.Pump();
                      }));
    return;
  }
  if (!pieces_.empty()) {
    WriteStarted();
    SendBody();
  }
}

void Link::WriteStarted() {
  writing_ = true;
  write_progress_ = Clock::now();
  if (!stall_check_armed_) {
    stall_check_armed_ = true;
    stall_timer_.expires_after(owner_->write_stall_timeout());
    stall_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->stall_check_armed_ = false;
      if (!ec) {
        self->CheckWriteStall();
      }
    });
  }
}

void Link::CheckWriteStall() {
  if (closed_ || !writing_) {
    return;  // the next write arms it again
  }
  auto idle = Clock::now() - write_progress_;
  auto limit = owner_->write_stall_timeout();
  if (idle >= limit) {
    Shutdown(DeadlineExceeded("the neighbour took none of our bytes for " +
                              std::to_string(limit.count()) + " ms"),
             true);
    return;
  }
  stall_check_armed_ = true;
  stall_timer_.expires_after(limit - std::chrono::duration_cast<milliseconds>(idle));
  stall_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->stall_check_armed_ = false;
    if (!ec) {
      self->CheckWriteStall();
    }
  });
}

void Link::SendBody() {
  PieceSend& p = pieces_.front();
  if (!p.head_out) {
    asio::async_write(socket_, asio::buffer(p.head), Completion("write", [](Link& l) {
                        l.write_progress_ = Clock::now();
                        l.pieces_.front().head_out = true;
                        l.SendBody();
                      }));
    return;
  }
  TokenBucket* bucket = owner_->bucket();
  while (p.sent < p.length) {
    uint32_t left = p.length - p.sent;
    if (bucket != nullptr && p.budget == 0) {
      p.budget = static_cast<uint32_t>(std::min<uint64_t>(left, bucket->chunk_size()));
      auto delay = bucket->Reserve(p.budget);
      if (delay.count() > 0) {
        timer_.expires_after(delay);
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
          if (!ec && !self->closed_) {
            self->SendBody();
          }
        });
        return;
      }
    }
    size_t n = bucket != nullptr ? p.budget : left;
    ssize_t w = 0;
    if (!p.memory.empty()) {
      w = ::send(socket_.native_handle(), p.memory.data() + p.sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      auto off = static_cast<off_t>(p.offset + p.sent);
      w = ::sendfile(socket_.native_handle(), task_->read_fd(), &off, n);
    }
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      socket_.async_wait(asio::socket_base::wait_write,
                         Completion("write", [](Link& l) { l.SendBody(); }));
      return;
    }
    if (w <= 0) {
      Shutdown(w == 0 ? DataLoss("sendfile: data file shorter than the piece")
                      : ErrnoError("send piece", errno),
               true);
      return;
    }
    p.sent += static_cast<uint32_t>(w);
    write_progress_ = Clock::now();
    if (bucket != nullptr) {
      p.budget -= static_cast<uint32_t>(w);
    }
  }
  const uint32_t piece = p.piece;
  const uint32_t length = p.length;
  pieces_.pop_front();
  writing_ = false;
  owner_->PieceSent(length);
  if (exchange_ != nullptr) {
    exchange_->OnPieceSent(id_, piece, true);
  }
  Pump();
}

void Link::Close(const Status& why) { Shutdown(why, false); }

void Link::Shutdown(const Status& why, bool notify) {
  if (closed_) {
    return;
  }
  closed_ = true;
  spdlog::debug("piece link closed task_id={} peer={} inbound={} why=\"{}\"", task_id_,
                peer_.peer_id, inbound_, why.ToString());
  timer_.cancel();
  stall_timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  control_.clear();
  pieces_.clear();
  Exchange* ex = exchange_;
  exchange_ = nullptr;
  if (notify && ex != nullptr) {
    ex->RemoveNeighbour(id_, why);
  }
  owner_->OnClosed(this);
}

std::chrono::milliseconds Link::idle_for(Clock::time_point now) const {
  return std::chrono::duration_cast<milliseconds>(now - last_read_);
}

}  // namespace df::piece
