// Digests: CRC32C (hardware accelerated where the CPU has SSE4.2) for pieces, and streaming
// verification of a whole task against a user-given "sha256:", "sha512:" or "crc32:" digest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dragonfly/common/status.h"

namespace df {

// CRC-32C (Castagnoli). Extend `crc` (0 to start) with `data`.
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);

// IEEE CRC-32 as zlib computes it (used for "crc32:" task digests, as Dragonfly does).
uint32_t Crc32Ieee(uint32_t crc, const void* data, size_t n);

std::string Sha256Hex(const void* data, size_t n);

// SHA-256 of a stream of bytes.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(const void* data, size_t n);
  std::string HexDigest();  // once, at the end

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A running digest of a stream of bytes. Create with ParseDigest().
class DigestVerifier {
 public:
  virtual ~DigestVerifier() = default;
  virtual void Update(const void* data, size_t n) = 0;
  // Ok if the bytes seen match the expected digest, DataLoss otherwise.
  virtual Status Verify() = 0;
  virtual const std::string& expected() const = 0;
};

// Parses "sha256:<64 hex>", "sha512:<128 hex>" or "crc32:<8 hex or decimal>".
StatusOr<std::unique_ptr<DigestVerifier>> ParseDigest(const std::string& spec);

// Verifies the first `length` bytes of the file at `path` against `spec`.
Status VerifyFileDigest(const std::string& path, const std::string& spec);

}  // namespace df
