#include "dragonfly/security/bootstrap_token.h"

#include <openssl/rand.h>

#include "dragonfly/common/digest.h"

namespace df::security {
namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

bool Valid(std::string_view s, size_t n) {
  if (s.size() != n) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

std::string Random(size_t n) {
  std::string out;
  while (out.size() < n) {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof(b)) != 1) {
      std::abort();  // no randomness: nothing safe to hand out
    }
    for (unsigned char c : b) {
      if (out.size() < n && c < 252) {  // 252 = 7 * 36: no modulo bias
        out.push_back(kAlphabet[c % 36]);
      }
    }
  }
  return out;
}

}  // namespace

std::string BootstrapToken::SecretHash() const { return Sha256Hex(secret.data(), secret.size()); }

StatusOr<BootstrapToken> ParseBootstrapToken(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || !Valid(text.substr(0, dot), 6) ||
      !Valid(text.substr(dot + 1), 16)) {
    return InvalidArgument(
        "a bootstrap token is <6 of [a-z0-9]>.<16 of [a-z0-9]> (like abcdef.0123456789abcdef)");
  }
  return BootstrapToken{std::string(text.substr(0, dot)), std::string(text.substr(dot + 1))};
}

BootstrapToken MakeBootstrapToken() { return {Random(6), Random(16)}; }

}  // namespace df::security
