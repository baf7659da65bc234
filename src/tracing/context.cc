#include "dragonfly/tracing/context.h"

#include <random>

namespace df::tracing {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& b) {
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[b[i] >> 4];
    out[2 * i + 1] = kHex[b[i] & 0xf];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;  // upper case is not allowed by the spec
}

template <size_t N>
bool FromHex(std::string_view s, std::array<uint8_t, N>* out) {
  if (s.size() != 2 * N) {
    return false;
  }
  for (size_t i = 0; i < N; ++i) {
    int hi = HexDigit(s[2 * i]);
    int lo = HexDigit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
bool NonZero(const std::array<uint8_t, N>& b) {
  for (uint8_t x : b) {
    if (x != 0) {
      return true;
    }
  }
  return false;
}

template <size_t N>
std::array<uint8_t, N> RandomBytes() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<uint8_t, N> b{};
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t v = rng();
      for (size_t j = 0; j < 8 && i + j < N; ++j) {
        b[i + j] = static_cast<uint8_t>(v >> (8 * j));
      }
    }
  } while (!NonZero(b));
  return b;
}

}  // namespace

bool TraceId::valid() const { return NonZero(bytes); }
std::string TraceId::Hex() const { return ToHex(bytes); }
TraceId TraceId::Random() { return TraceId{RandomBytes<16>()}; }

bool SpanId::valid() const { return NonZero(bytes); }
std::string SpanId::Hex() const { return ToHex(bytes); }
SpanId SpanId::Random() { return SpanId{RandomBytes<8>()}; }

std::string SpanContext::ToTraceparent() const {
  if (!valid()) {
    return "";
  }
  return "00-" + trace_id.Hex() + "-" + span_id.Hex() + (sampled ? "-01" : "-00");
}

std::optional<SpanContext> SpanContext::FromTraceparent(std::string_view h) {
  // version(2) - trace id(32) - span id(16) - flags(2), and for versions after 00 maybe more.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') {
    return std::nullopt;
  }
  std::array<uint8_t, 1> version{};
  std::array<uint8_t, 1> flags{};
  SpanContext c;
  if (!FromHex(h.substr(0, 2), &version) || version[0] == 0xff ||
      !FromHex(h.substr(3, 32), &c.trace_id.bytes) ||
      !FromHex(h.substr(36, 16), &c.span_id.bytes) || !FromHex(h.substr(53, 2), &flags)) {
    return std::nullopt;
  }
  if (version[0] == 0 && h.size() != 55) {
    return std::nullopt;
  }
  if (version[0] != 0 && h.size() > 55 && h[55] != '-') {
    return std::nullopt;
  }
  if (!c.valid()) {
    return std::nullopt;
  }
  c.sampled = (flags[0] & 1) != 0;
  c.remote = true;
  return c;
}

namespace {
thread_local SpanContext current_context;
}  // namespace

const SpanContext& CurrentContext() { return current_context; }

ScopedContext::ScopedContext(const SpanContext& context) : previous_(current_context) {
  current_context = context;
}

ScopedContext::~ScopedContext() { current_context = previous_; }

bool SampledByRatio(const TraceId& id, double rate) {
  if (rate >= 1.0) {
    return true;
  }
  if (rate <= 0.0) {
    return false;
  }
  uint64_t v = 0;
  for (size_t i = 8; i < 16; ++i) {
    v = v << 8 | id.bytes[i];
  }
  return static_cast<double>(v) < rate * 18446744073709551616.0;  // 2^64
}

}  // namespace df::tracing
