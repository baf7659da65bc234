#include "piece/frame.h"

namespace df::piece::frame {
namespace {

class Writer {
 public:
  explicit Writer(FrameType type) {
    out_.resize(kHeaderSize);
    out_[4] = static_cast<char>(type);
  }
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Le(v, 2); }
  void U32(uint32_t v) { Le(v, 4); }
  void U64(uint64_t v) { Le(v, 8); }
  void Bytes(std::string_view b) { out_.append(b); }
  void Id(std::string_view id) {
    U8(static_cast<uint8_t>(std::min(id.size(), kMaxIdLen)));
    Bytes(id.substr(0, kMaxIdLen));
  }
  // Finishes the header: the length counts the type byte and the payload, plus `extra` body
  // bytes the caller sends after this frame's head.
  std::string Done(uint32_t extra = 0) {
    uint32_t len = static_cast<uint32_t>(out_.size() - 4) + extra;
    for (int i = 0; i < 4; ++i) {
      out_[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
    }
    return std::move(out_);
  }

 private:
  void Le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) {
      out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view p) : p_(p) {}
  bool U8(uint8_t* v) { return Le(v); }
  bool U16(uint16_t* v) { return Le(v); }
  bool U32(uint32_t* v) { return Le(v); }
  bool U64(uint64_t* v) { return Le(v); }
  bool Bytes(size_t n, std::string* out) {
    if (p_.size() < n) {
      return false;
    }
    out->assign(p_.data(), n);
    p_.remove_prefix(n);
    return true;
  }
  bool Id(std::string* out) {
    uint8_t n = 0;
    return U8(&n) && n > 0 && Bytes(n, out);
  }
  bool empty() const { return p_.empty(); }
  std::string_view rest() const { return p_; }

 private:
  // A little-endian unsigned integer of sizeof(T) bytes.
  template <typename T>
  bool Le(T* v) {
    if (p_.size() < sizeof(T)) {
      return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      x |= static_cast<uint64_t>(static_cast<uint8_t>(p_[i])) << (8 * i);
    }
    *v = static_cast<T>(x);
    p_.remove_prefix(sizeof(T));
    return true;
  }
  std::string_view p_;
};

Status Malformed(const char* what) {
  return InvalidArgument(std::string("malformed ") + what + " frame");
}

bool ReadGeometry(Reader* r, Geometry* g) {
  uint64_t len = 0;
  if (!r->U64(&len) || !r->U32(&g->piece_length) || !r->U32(&g->total_pieces)) {
    return false;
  }
  g->content_length = static_cast<int64_t>(len);
  return g->content_length >= -1;
}

void WriteGeometry(Writer* w, const Geometry& g) {
  w->U64(static_cast<uint64_t>(g.content_length));
  w->U32(g.piece_length);
  w->U32(g.total_pieces);
}

}  // namespace

uint32_t LoadU32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

uint64_t LoadU64(const char* p) {
  return static_cast<uint64_t>(LoadU32(p)) | (static_cast<uint64_t>(LoadU32(p + 4)) << 32);
}

std::string EncodeHello(const Hello& h) {
  Writer w(FrameType::kHello);
  w.U8(kProtocolVersion);
  w.Id(h.task_id);
  w.Id(h.peer_id);
  w.U8(h.seed ? kHelloSeed : 0);
  const std::string_view token = std::string_view(h.token).substr(0, kMaxTokenLen);
  w.U16(static_cast<uint16_t>(token.size()));
  w.Bytes(token);
  const std::string_view tp = std::string_view(h.trace_parent).substr(0, kMaxTraceParentLen);
  w.U8(static_cast<uint8_t>(tp.size()));
  w.Bytes(tp);
  return w.Done();
}

std::string EncodeBitfield(const Bitfield& b) {
  Writer w(FrameType::kBitfield);
  WriteGeometry(&w, b.geometry);
  w.U8(b.done ? 1 : 0);
  w.U32(static_cast<uint32_t>(b.bitmap.size()));
  w.Bytes(std::string_view(reinterpret_cast<const char*>(b.bitmap.data()), b.bitmap.size()));
  return w.Done();
}

std::string EncodeGeometry(const Geometry& g) {
  Writer w(FrameType::kGeometry);
  WriteGeometry(&w, g);
  return w.Done();
}

std::string EncodePieceNumber(FrameType type, uint32_t piece) {
  Writer w(type);
  w.U32(piece);
  return w.Done();
}

std::string EncodeReject(const Reject& r) {
  Writer w(FrameType::kReject);
  w.U32(r.piece);
  w.U8(static_cast<uint8_t>(r.code));
  w.U32(r.suggestion);
  return w.Done();
}

std::string EncodeError(const Error& e) {
  Writer w(FrameType::kError);
  w.U8(static_cast<uint8_t>(e.code));
  std::string_view m = std::string_view(e.message).substr(0, 1024);
  w.U16(static_cast<uint16_t>(m.size()));
  w.Bytes(m);
  return w.Done();
}

std::string EncodePieceHeader(uint32_t piece, uint32_t crc, uint32_t length) {
  Writer w(FrameType::kPiece);
  w.U32(piece);
  w.U32(crc);
  return w.Done(length);
}

uint32_t MaxPayload(FrameType type) {
  switch (type) {
    case FrameType::kHello:
    case FrameType::kGeometry:
    case FrameType::kHave:
    case FrameType::kRequest:
    case FrameType::kCancel:
    case FrameType::kReject:
    case FrameType::kError:
      return kMaxSmallFrame;
    case FrameType::kBitfield:
      return 21 + kMaxBitmapBytes;
    case FrameType::kPiece:
      return 8 + kMaxPieceBytes;
  }
  return 0;
}

Status DecodeHeader(const char* p, FrameType* type, uint32_t* payload_len) {
  uint32_t len = LoadU32(p);
  auto t = static_cast<FrameType>(static_cast<uint8_t>(p[4]));
  uint32_t max = MaxPayload(t);
  if (max == 0) {
    return InvalidArgument("unknown frame type " + std::to_string(static_cast<uint8_t>(p[4])));
  }
  if (len < 1 || len - 1 > max) {
    return InvalidArgument("frame of type " + std::to_string(static_cast<uint8_t>(t)) +
                           " has a bad length " + std::to_string(len));
  }
  *type = t;
  *payload_len = len - 1;
  return Status::Ok();
}

StatusOr<Hello> DecodeHello(std::string_view payload) {
  Reader r(payload);
  uint8_t version = 0;
  uint8_t flags = 0;
  uint16_t token_len = 0;
  uint8_t tp_len = 0;
  Hello h;
  if (!r.U8(&version)) {
    return Malformed("HELLO");
  }
  if (version != kProtocolVersion) {
    return InvalidArgument("piece protocol version " + std::to_string(version) + ", want " +
                           std::to_string(kProtocolVersion));
  }
  if (!r.Id(&h.task_id) || !r.Id(&h.peer_id) || !r.U8(&flags) || !r.U16(&token_len) ||
      token_len > kMaxTokenLen || !r.Bytes(token_len, &h.token) || !r.U8(&tp_len) ||
      tp_len > kMaxTraceParentLen || !r.Bytes(tp_len, &h.trace_parent) || !r.empty()) {
    return Malformed("HELLO");
  }
  h.seed = (flags & kHelloSeed) != 0;
  return h;
}

StatusOr<Bitfield> DecodeBitfield(std::string_view payload) {
  Reader r(payload);
  Bitfield b;
  uint8_t done = 0;
  uint32_t n = 0;
  if (!ReadGeometry(&r, &b.geometry) || !r.U8(&done) || !r.U32(&n) || n > kMaxBitmapBytes ||
      r.rest().size() != n) {
    return Malformed("BITFIELD");
  }
  b.done = done != 0;
  b.bitmap.assign(r.rest().begin(), r.rest().end());
  return b;
}

StatusOr<Geometry> DecodeGeometry(std::string_view payload) {
  Reader r(payload);
  Geometry g;
  if (!ReadGeometry(&r, &g) || !r.empty()) {
    return Malformed("GEOMETRY");
  }
  return g;
}

StatusOr<uint32_t> DecodePieceNumber(std::string_view payload) {
  Reader r(payload);
  uint32_t n = 0;
  if (!r.U32(&n) || !r.empty()) {
    return Malformed("piece-number");
  }
  return n;
}

StatusOr<Reject> DecodeReject(std::string_view payload) {
  Reader r(payload);
  Reject j;
  uint8_t code = 0;
  if (!r.U32(&j.piece) || !r.U8(&code) || !r.U32(&j.suggestion) || !r.empty() || code < 1 ||
      code > 3) {
    return Malformed("REJECT");
  }
  j.code = static_cast<RejectCode>(code);
  return j;
}

StatusOr<Error> DecodeError(std::string_view payload) {
  Reader r(payload);
  Error e;
  uint8_t code = 0;
  uint16_t n = 0;
  if (!r.U8(&code) || !r.U16(&n) || !r.Bytes(n, &e.message)) {
    return Malformed("ERROR");
  }
  e.code = static_cast<ErrorCode>(code);
  return e;
}

}  // namespace df::piece::frame
