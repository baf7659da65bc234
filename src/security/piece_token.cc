#include "dragonfly/security/piece_token.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace df::security {
namespace {

constexpr uint8_t kTokenVersion = 1;
constexpr size_t kKeyIdBytes = 8;
constexpr size_t kSignatureBytes = 64;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string KeyId(std::string_view public_key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(public_key.data()), public_key.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), kKeyIdBytes);
}

void PutI64(std::string* out, int64_t v) {
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
}

// The parts of a token; views into it.
struct Parsed {
  std::string_view key_id;
  int64_t expires = 0;
  std::string_view task_id;
  std::string_view peer_id;
  std::string_view signed_part;
  std::string_view signature;
};

StatusOr<Parsed> Parse(std::string_view token) {
  auto bad = [](const char* why) {
    return PermissionDenied(std::string("malformed piece token: ") + why);
  };
  if (token.empty()) {
    return PermissionDenied("no piece token");
  }
  if (token.size() > kMaxPieceTokenBytes) {
    return bad("too long");
  }
  size_t pos = 0;
  if (static_cast<uint8_t>(token[pos++]) != kTokenVersion) {
    return bad("unknown version");
  }
  Parsed p;
  if (token.size() < pos + kKeyIdBytes + 8 + 1) {
    return bad("truncated");
  }
  p.key_id = token.substr(pos, kKeyIdBytes);
  pos += kKeyIdBytes;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) {
    u |= static_cast<uint64_t>(static_cast<uint8_t>(token[pos + i])) << (8 * i);
  }
  p.expires = static_cast<int64_t>(u);
  pos += 8;
  for (std::string_view* id : {&p.task_id, &p.peer_id}) {
    if (pos >= token.size()) {
      return bad("truncated");
    }
    size_t len = static_cast<uint8_t>(token[pos++]);
    if (token.size() < pos + len) {
      return bad("truncated");
    }
    *id = token.substr(pos, len);
    pos += len;
  }
  if (token.size() != pos + kSignatureBytes) {
    return bad("bad signature length");
  }
  p.signed_part = token.substr(0, pos);
  p.signature = token.substr(pos);
  return p;
}

}  // namespace

struct TokenSigner::Key {
  PkeyPtr pkey;
};

TokenSigner::TokenSigner(TokenSigner&&) noexcept = default;
TokenSigner& TokenSigner::operator=(TokenSigner&&) noexcept = default;
TokenSigner::~TokenSigner() = default;

StatusOr<TokenSigner> TokenSigner::Generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) {
    return Internal("cannot generate an Ed25519 key");
  }
  std::string pub(kEd25519KeyBytes, '\0');
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) !=
          1 ||
      len != kEd25519KeyBytes) {
    return Internal("cannot read the Ed25519 public key");
  }
  TokenSigner s;
  s.key_ = std::make_unique<Key>();
  s.key_->pkey = std::move(pkey);
  s.key_id_ = KeyId(pub);
  s.public_key_ = std::move(pub);
  return s;
}

StatusOr<std::string> TokenSigner::Sign(const PieceGrant& grant) const {
  if (grant.task_id.size() > 255 || grant.peer_id.size() > 255) {
    return InvalidArgument("task and peer IDs of a piece token are at most 255 bytes");
  }
  std::string out;
  out.reserve(kMaxPieceTokenBytes);
  out.push_back(static_cast<char>(kTokenVersion));
  out += key_id_;
  PutI64(&out, grant.expires_unix_s);
  out.push_back(static_cast<char>(grant.task_id.size()));
  out += grant.task_id;
  out.push_back(static_cast<char>(grant.peer_id.size()));
  out += grant.peer_id;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char sig[kSignatureBytes];
  size_t sig_len = sizeof(sig);
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &sig_len, reinterpret_cast<const unsigned char*>(out.data()),
                     out.size()) != 1 ||
      sig_len != kSignatureBytes) {
    return Internal("cannot sign a piece token");
  }
  out.append(reinterpret_cast<const char*>(sig), sig_len);
  return out;
}

struct TokenVerifier::Entry {
  std::string key_id;
  std::string public_key;
  PkeyPtr pkey;
};

TokenVerifier::TokenVerifier(size_t max_keys) : max_keys_(std::max<size_t>(max_keys, 1)) {}
TokenVerifier::~TokenVerifier() = default;

Status TokenVerifier::Trust(std::string_view public_key) {
  if (public_key.size() != kEd25519KeyBytes) {
    return InvalidArgument("a piece-token key is " + std::to_string(kEd25519KeyBytes) +
                           " bytes, not " + std::to_string(public_key.size()));
  }
  std::lock_guard lock(mu_);
  for (const auto& e : keys_) {
    if (e->public_key == public_key) {
      return Status::Ok();
    }
  }
  auto e = std::make_unique<Entry>();
  e->pkey.reset(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  if (!e->pkey) {
    return InvalidArgument("not an Ed25519 public key");
  }
  e->public_key = std::string(public_key);
  e->key_id = KeyId(public_key);
  if (keys_.size() >= max_keys_) {
    keys_.erase(keys_.begin());
  }
  keys_.push_back(std::move(e));
  return Status::Ok();
}

size_t TokenVerifier::keys() const {
  std::lock_guard lock(mu_);
  return keys_.size();
}

Status TokenVerifier::Verify(std::string_view token, std::string_view task_id,
                             std::string_view peer_id, int64_t now_unix_s) const {
  DF_ASSIGN_OR_RETURN(Parsed p, Parse(token));
  if (p.task_id != task_id) {
    return PermissionDenied("piece token is for another task");
  }
  if (!p.peer_id.empty() && p.peer_id != peer_id) {
    return PermissionDenied("piece token is for another peer");
  }
  if (now_unix_s > p.expires) {  // (no arithmetic: `expires` is the sender's, any i64)
    return PermissionDenied("piece token expired (at " + std::to_string(p.expires) + ", now " +
                            std::to_string(now_unix_s) + ")");
  }
  std::lock_guard lock(mu_);
  for (const auto& e : keys_) {
    if (e->key_id != p.key_id) {
      continue;
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, e->pkey.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(p.signature.data()),
                         p.signature.size(),
                         reinterpret_cast<const unsigned char*>(p.signed_part.data()),
                         p.signed_part.size()) == 1) {
      return Status::Ok();
    }
    return PermissionDenied("piece token has a bad signature");
  }
  return PermissionDenied(std::string("piece token ") + kUnknownKey);
}

StatusOr<PieceGrant> PeekToken(std::string_view token) {
  DF_ASSIGN_OR_RETURN(Parsed p, Parse(token));
  return PieceGrant{std::string(p.task_id), std::string(p.peer_id), p.expires};
}

GrantCache::GrantCache(const TokenSigner* signer, std::chrono::seconds ttl, size_t max_tasks)
    : signer_(signer), ttl_s_(std::max<int64_t>(ttl.count(), 1)), max_tasks_(max_tasks) {}

StatusOr<std::string> GrantCache::Grant(const std::string& task_id, int64_t now_unix_s) {
  {
    std::lock_guard lock(mu_);
    auto it = grants_.find(task_id);
    if (it != grants_.end() && it->second.expires - now_unix_s > ttl_s_ / 2) {
      return it->second.token;
    }
  }
  const int64_t expires = now_unix_s + ttl_s_;
  DF_ASSIGN_OR_RETURN(std::string token, signer_->Sign({task_id, "", expires}));
  std::lock_guard lock(mu_);
  ++signatures_;
  if (grants_.size() >= max_tasks_ && grants_.count(task_id) == 0) {
    grants_.clear();
  }
  Entry& e = grants_[task_id];
  if (expires >= e.expires) {  // a concurrent caller may have signed a later one
    e.token = token;
    e.expires = expires;
  }
  return token;
}

uint64_t GrantCache::signatures() const {
  std::lock_guard lock(mu_);
  return signatures_;
}

int64_t NowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace df::security
