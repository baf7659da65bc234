// Credentials of the manager: password hashes (argon2id), JWTs for the console and /api/v1
// (HS256 with a key generated at first start and kept in the database), and personal access
// tokens for /oapi/v1 (random, stored only as their SHA-256).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::manager::auth {

// argon2id in PHC string form ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
StatusOr<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view password, const std::string& phc);

struct Claims {
  int64_t user_id = 0;
  std::string name;
  std::string role;  // "root" or "guest"
  int64_t issued_at_s = 0;
  int64_t expires_at_s = 0;
  // Binds the token to the user's password as it was at sign-in (PasswordVersion): a password
  // change ends every session.
  std::string password_version;
};

// A short digest of a password hash, keyed: it changes with every password set (argon2 salts
// are random) and says nothing of the password.
std::string PasswordVersion(std::string_view key, const std::string& password_hash);

std::string SignJwt(const Claims& claims, std::string_view key);
// Checks the signature, algorithm (HS256 only) and expiry against `now_s`.
StatusOr<Claims> VerifyJwt(std::string_view token, std::string_view key, int64_t now_s);

// `bytes` random bytes, base64url without padding.
std::string RandomToken(size_t bytes);
std::string Sha256Hex(std::string_view data);
// Constant-time comparison.
bool SafeEqual(std::string_view a, std::string_view b);

std::string Base64UrlEncode(std::string_view data);
StatusOr<std::string> Base64UrlDecode(std::string_view data);
std::string Base64Encode(std::string_view data);
StatusOr<std::string> Base64Decode(std::string_view data);

}  // namespace df::manager::auth
