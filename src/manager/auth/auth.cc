#include "dragonfly/manager/auth.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "dragonfly/common/digest.h"

namespace df::manager::auth {
namespace {

constexpr uint32_t kTimeCost = 2;
constexpr uint32_t kMemoryKiB = 19 * 1024;  // OWASP's argon2id minimum
constexpr uint32_t kParallelism = 1;
constexpr size_t kSaltLen = 16;
constexpr size_t kHashLen = 32;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Encode(std::string_view in, bool url) {
  std::string out;
  size_t i = 0;
  auto ch = [&](uint32_t v) {
    char c = kB64[v & 63];
    if (url && c == '+') {
      c = '-';
    }
    if (url && c == '/') {
      c = '_';
    }
    out += c;
  };
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    ch(v >> 18), ch(v >> 12), ch(v >> 6), ch(v);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    ch(v >> 18), ch(v >> 12);
    if (!url) {
      out += "==";
    }
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    ch(v >> 18), ch(v >> 12), ch(v >> 6);
    if (!url) {
      out += '=';
    }
  }
  return out;
}

StatusOr<std::string> Decode(std::string_view in, bool url) {
  while (!in.empty() && in.back() == '=') {
    in.remove_suffix(1);
  }
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == (url ? '-' : '+')) {
      v = 62;
    } else if (c == (url ? '_' : '/')) {
      v = 63;
    } else {
      return InvalidArgument("bad base64");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) { return Encode(data, true); }
StatusOr<std::string> Base64UrlDecode(std::string_view data) { return Decode(data, true); }
std::string Base64Encode(std::string_view data) { return Encode(data, false); }
StatusOr<std::string> Base64Decode(std::string_view data) { return Decode(data, false); }

StatusOr<std::string> HashPassword(std::string_view password) {
  unsigned char salt[kSaltLen];
  if (RAND_bytes(salt, sizeof(salt)) != 1) {
    return Internal("no randomness for a password salt");
  }
  size_t len =
      argon2_encodedlen(kTimeCost, kMemoryKiB, kParallelism, kSaltLen, kHashLen, Argon2_id);
  std::string out(len, '\0');
  int rc = argon2id_hash_encoded(kTimeCost, kMemoryKiB, kParallelism, password.data(),
                                 password.size(), salt, sizeof(salt), kHashLen, out.data(), len);
  if (rc != ARGON2_OK) {
    return Internal(std::string("argon2: ") + argon2_error_message(rc));
  }
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool VerifyPassword(std::string_view password, const std::string& phc) {
  return phc.rfind("$argon2id$", 0) == 0 &&
         argon2id_verify(phc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string SignJwt(const Claims& c, std::string_view key) {
  std::string header = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  nlohmann::json body = {{"id", c.user_id},       {"name", c.name},
                         {"role", c.role},        {"iat", c.issued_at_s},
                         {"exp", c.expires_at_s}, {"pwv", c.password_version}};
  std::string signing = header + "." + Base64UrlEncode(body.dump());
  return signing + "." + Base64UrlEncode(HmacSha256(key, signing));
}

std::string PasswordVersion(std::string_view key, const std::string& password_hash) {
  return Base64UrlEncode(HmacSha256(key, "password-version:" + password_hash).substr(0, 12));
}

StatusOr<Claims> VerifyJwt(std::string_view token, std::string_view key, int64_t now_s) {
  size_t a = token.find('.');
  size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
  if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos) {
    return Status(StatusCode::kUnauthenticated, "malformed token");
  }
  auto header = Base64UrlDecode(token.substr(0, a));
  auto body = Base64UrlDecode(token.substr(a + 1, b - a - 1));
  auto sig = Base64UrlDecode(token.substr(b + 1));
  if (!header.ok() || !body.ok() || !sig.ok()) {
    return Status(StatusCode::kUnauthenticated, "malformed token");
  }
  // Compared as text: base64url leaves the last character's low bits unused, and a signature
  // spelt another way (those bits changed) is not the token that was issued.
  if (!SafeEqual(token.substr(b + 1), Base64UrlEncode(HmacSha256(key, token.substr(0, b))))) {
    return Status(StatusCode::kUnauthenticated, "bad token signature");
  }
  try {
    auto h = nlohmann::json::parse(*header);
    if (h.value("alg", "") != "HS256") {
      return Status(StatusCode::kUnauthenticated, "unsupported token algorithm");
    }
    auto j = nlohmann::json::parse(*body);
    Claims c;
    c.user_id = j.at("id").get<int64_t>();
    c.name = j.at("name").get<std::string>();
    c.role = j.at("role").get<std::string>();
    c.issued_at_s = j.at("iat").get<int64_t>();
    c.expires_at_s = j.at("exp").get<int64_t>();
    c.password_version = j.value("pwv", "");
    if (c.expires_at_s <= now_s) {
      return Status(StatusCode::kUnauthenticated, "token expired");
    }
    return c;
  } catch (const nlohmann::json::exception&) {
    return Status(StatusCode::kUnauthenticated, "malformed token");
  }
}

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  return Base64UrlEncode(raw);
}

std::string Sha256Hex(std::string_view data) { return df::Sha256Hex(data.data(), data.size()); }

bool SafeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace df::manager::auth
