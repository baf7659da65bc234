// Piece tokens: the scheduler's grant that lets one peer of a task read the task's pieces from
// its neighbours (docs/security.md, "Piece port"). A task ID is a URL hash or a blob digest, not
// a secret; a token is what a host has to show for having registered the task with the
// scheduler, which checked the task's spec (rpc::VerifyTaskSpec).
//
// A token is signed with the scheduler's Ed25519 key and names the task, a peer or none (a
// grant to any peer of the task: what the scheduler hands out) and an expiry (Unix seconds). The
// scheduler hands one out with every RegisterPeer answer; the peer puts it in the HELLO of each
// connection it opens; the accepting piece server checks it against the keys of the schedulers
// it announced to (AnnounceHostResponse) before it looks the task up. A peer ID in a token binds
// nothing an attacker cannot copy (the HELLO's peer ID is not authenticated: the token carries
// it in clear), so the scheduler signs one grant per task and reuses it (GrantCache): signing
// is the costliest step of a registration.
//
// Wire format: u8 version (1), 8 bytes key ID (the first bytes of SHA-256 of the public key),
// i64 expiry (little-endian), u8 len + task ID, u8 len + peer ID, 64 bytes signature over all
// that precedes it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
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

  // Ok when `token` is well formed, signed by a trusted key, for `task_id` and `peer_id` (or any
  // peer), and not expired at `now_unix_s`. PermissionDenied says which check failed (kUnknownKey
  // in the message when the key is not trusted: the caller may learn new keys and retry).
  Status Verify(std::string_view token, std::string_view task_id, std::string_view peer_id,
                int64_t now_unix_s) const;

 private:
  struct Entry;
  const size_t max_keys_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> keys_;  // oldest first
};

inline constexpr char kUnknownKey[] = "signed by an unknown key";

// Grants for any peer of a task, one per task, signed by `signer` with a life of `ttl` and
// handed out again while more than half of it is left. At most `max_tasks` are kept (beyond,
// all are dropped and signed again as asked). Thread-safe; signs outside its lock.
class GrantCache {
 public:
  // `signer` must outlive this object.
  GrantCache(const TokenSigner* signer, std::chrono::seconds ttl, size_t max_tasks);
  StatusOr<std::string> Grant(const std::string& task_id, int64_t now_unix_s);
  uint64_t signatures() const;  // made so far (tests)

 private:
  struct Entry {
    std::string token;
    int64_t expires = 0;
  };
  const TokenSigner* signer_;
  const int64_t ttl_s_;
  const size_t max_tasks_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> grants_;
  uint64_t signatures_ = 0;
};

// The grant a token carries, without checking its signature (for logs and tools).
StatusOr<PieceGrant> PeekToken(std::string_view token);

int64_t NowUnixSeconds();

}  // namespace df::security
