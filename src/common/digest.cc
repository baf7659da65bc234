#include "dragonfly/common/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace df {
namespace {

std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    t[i] = c;
  }
  return t;
}

uint32_t Crc32cSoftware(uint32_t crc, const uint8_t* p, size_t n) {
  static const auto kTable = MakeCrc32cTable();
  crc = ~crc;
  while (n--) {
    crc = kTable[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n--) {
    c32 = _mm_crc32_u8(c32, *p++);
  }
  return ~c32;
}

bool HasSse42() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) {
    return false;
  }
  return (c & bit_SSE4_2) != 0;
}
#endif

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xf];
  }
  return out;
}

bool IsHex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

std::string Lower(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

class EvpVerifier : public DigestVerifier {
 public:
  EvpVerifier(const EVP_MD* md, std::string spec, std::string want_hex)
      : ctx_(EVP_MD_CTX_new()), spec_(std::move(spec)), want_(std::move(want_hex)) {
    EVP_DigestInit_ex(ctx_, md, nullptr);
  }
  ~EvpVerifier() override { EVP_MD_CTX_free(ctx_); }
  EvpVerifier(const EvpVerifier&) = delete;
  EvpVerifier& operator=(const EvpVerifier&) = delete;
  void Update(const void* data, size_t n) override { EVP_DigestUpdate(ctx_, data, n); }
  Status Verify() override {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string got = Hex(md, len);
    if (got != want_) {
      return DataLoss("digest mismatch: want " + spec_ + ", got " +
                      spec_.substr(0, spec_.find(':')) + ":" + got);
    }
    return Status::Ok();
  }
  const std::string& expected() const override { return spec_; }

 private:
  EVP_MD_CTX* ctx_;
  std::string spec_;
  std::string want_;
};

class Crc32Verifier : public DigestVerifier {
 public:
  Crc32Verifier(std::string spec, uint32_t want) : spec_(std::move(spec)), want_(want) {}
  void Update(const void* data, size_t n) override { crc_ = Crc32Ieee(crc_, data, n); }
  Status Verify() override {
    if (crc_ != want_) {
      return DataLoss("digest mismatch: want " + spec_ + ", got crc32:" + std::to_string(crc_));
    }
    return Status::Ok();
  }
  const std::string& expected() const override { return spec_; }

 private:
  std::string spec_;
  uint32_t want_;
  uint32_t crc_ = 0;
};

}  // namespace

uint32_t Crc32c(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
  static const bool kHw = HasSse42();
  if (kHw) {
    return Crc32cHardware(crc, p, n);
  }
#endif
  return Crc32cSoftware(crc, p, n);
}

uint32_t Crc32Ieee(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    auto chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

struct Sha256Stream::State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {
  EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr);
}

Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::Update(const void* data, size_t n) { EVP_DigestUpdate(state_->ctx, data, n); }

std::string Sha256Stream::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string Sha256Hex(const void* data, size_t n) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr);
  return Hex(md, len);
}

StatusOr<std::unique_ptr<DigestVerifier>> ParseDigest(const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos) {
    return InvalidArgument("bad digest '" + spec +
                           "': want sha256:<hex>, sha512:<hex> or crc32:<value>");
  }
  std::string algo = Lower(spec.substr(0, colon));
  std::string value = Lower(spec.substr(colon + 1));
  if (algo == "sha256" || algo == "sha512") {
    size_t want_len = algo == "sha256" ? 64 : 128;
    if (value.size() != want_len || !IsHex(value)) {
      return InvalidArgument("bad digest '" + spec + "': " + algo + " wants " +
                             std::to_string(want_len) + " hex digits");
    }
    const EVP_MD* md = algo == "sha256" ? EVP_sha256() : EVP_sha512();
    return std::unique_ptr<DigestVerifier>(
        std::make_unique<EvpVerifier>(md, algo + ":" + value, value));
  }
  if (algo == "crc32") {
    // Dragonfly writes crc32 digests as decimal; accept 8 hex digits too.
    uint64_t v = 0;
    bool ok = !value.empty() && value.size() <= 10 &&
              value.find_first_not_of("0123456789") == std::string::npos;
    if (ok) {
      v = std::stoull(value);
      ok = v <= 0xffffffffull;
    } else if (value.size() == 8 && IsHex(value)) {
      v = std::stoull(value, nullptr, 16);
      ok = true;
    }
    if (!ok) {
      return InvalidArgument("bad digest '" + spec + "': crc32 wants a decimal or 8 hex digits");
    }
    return std::unique_ptr<DigestVerifier>(
        std::make_unique<Crc32Verifier>("crc32:" + value, static_cast<uint32_t>(v)));
  }
  return InvalidArgument("bad digest '" + spec + "': unknown algorithm '" + algo +
                         "' (want sha256, sha512 or crc32)");
}

Status VerifyFileDigest(const std::string& path, const std::string& spec) {
  DF_ASSIGN_OR_RETURN(auto verifier, ParseDigest(spec));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError("open " + path, errno);
  }
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError("read " + path, err);
    }
    if (n == 0) {
      break;
    }
    verifier->Update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return verifier->Verify();
}

}  // namespace df
