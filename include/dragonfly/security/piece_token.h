// Piece tokens: the scheduler's grant that lets one peer of a task read the task's pieces from
// its neighbours (docs/security.md, "Piece port"). A task ID is a URL hash or a blob digest, not
// a secret; a token is what a host has to show for having registered the task with the
// scheduler, which checked the task's spec (rpc::VerifyTaskSpec).
//
// A token is signed with the scheduler's Ed25519 key and names the task, the peer and an expiry
// (Unix seconds). The scheduler hands one out with every RegisterPeer answer; the peer puts it in
// the HELLO of each connection it opens; the accepting piece server checks it against the keys
// of the schedulers it announced to (AnnounceHostResponse) before it looks the task up.
//
// Wire format: u8 version (1), 8 bytes key ID (the first bytes of SHA-256 of the public key),
// i64 expiry (little-endian), u8 len + task ID, u8 len + peer ID, 64 bytes signature over all
// that precedes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::security {

inline constexpr size_t kEd25519KeyBytes = 32;
inline constexpr size_t kMaxPieceTokenBytes = 1 + 8 + 8 + 1 + 255 + 1 + 255 + 64;

struct PieceGrant {
  std::string task_id;
  std::string peer_id;
  int64_t expires_unix_s = 0;
};

// Signs grants with an Ed25519 key made when it is generated and never stored: a restarted
// scheduler has a new key, which daemons learn when they announce again. Thread-safe.
class TokenSigner {
 public:
  static StatusOr<TokenSigner> Generate();
  TokenSigner(TokenSigner&&) noexcept;
  TokenSigner& operator=(TokenSigner&&) noexcept;
  ~TokenSigner();

  // The raw 32-byte public key.
  const std::string& public_key() const { return public_key_; }
  // InvalidArgument for an ID longer than 255 bytes.
  StatusOr<std::string> Sign(const PieceGrant& grant) const;

 private:
  struct Key;
  TokenSigner() = default;
  std::unique_ptr<Key> key_;
  std::string public_key_;
  std::string key_id_;
};

// The keys a piece server trusts and the check of a token against them. Thread-safe.
class TokenVerifier {
 public:
  // At most `max_keys` keys are kept: trusting one more forgets the oldest.
  explicit TokenVerifier(size_t max_keys = 16);
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Adds a raw 32-byte Ed25519 public key (again: no-op). InvalidArgument for another size.
  Status Trust(std::string_view public_key);
  size_t keys() const;

  // Ok when `token` is well formed, signed by a trusted key, for `task_id` and `peer_id`, and
  // not expired at `now_unix_s`. PermissionDenied says which check failed (kUnknownKey in the
  // message when the key is not trusted: the caller may learn new keys and retry).
  Status Verify(std::string_view token, std::string_view task_id, std::string_view peer_id,
                int64_t now_unix_s) const;

 private:
  struct Entry;
  const size_t max_keys_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> keys_;  // oldest first
};

inline constexpr char kUnknownKey[] = "signed by an unknown key";

// The grant a token carries, without checking its signature (for logs and tools).
StatusOr<PieceGrant> PeekToken(std::string_view token);

int64_t NowUnixSeconds();

}  // namespace df::security
