#include "backend/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

#include "dragonfly/common/digest.h"

namespace df::backend::sigv4 {

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Trims the value and folds every run of spaces (and folded lines) into one space.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) {
      out += ' ';
      space = false;
    }
    out += c;
  }
  return out;
}

// (lower-case name, values joined by ',') sorted by name.
std::vector<std::pair<std::string, std::string>> CanonicalHeaders(const Request& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : r.headers) {
    std::string n = Lower(CanonicalValue(name));
    std::string v = CanonicalValue(value);
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == n; });
    if (it == out.end()) {
      out.emplace_back(std::move(n), std::move(v));
    } else {
      it->second += "," + v;
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view pair = query.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    params.emplace_back(UriEncode(PercentDecode(k), false), UriEncode(PercentDecode(v), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    out += (out.empty() ? "" : "&") + k + "=" + v;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0xf];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string SignedHeaders(const Request& r) {
  std::string out;
  for (const auto& [name, value] : CanonicalHeaders(r)) {
    out += (out.empty() ? "" : ";") + name;
  }
  return out;
}

std::string CanonicalRequest(const Request& r) {
  std::string out = r.method + "\n";
  out += UriEncode(PercentDecode(r.path.empty() ? "/" : r.path), true) + "\n";
  out += CanonicalQuery(r.query) + "\n";
  for (const auto& [name, value] : CanonicalHeaders(r)) {
    out += name + ":" + value + "\n";
  }
  out += "\n" + SignedHeaders(r) + "\n" + r.payload_hash;
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view region,
                         std::string_view service, std::string_view canonical_request) {
  std::string out = "AWS4-HMAC-SHA256\n";
  out += std::string(amz_date) + "\n";
  out += std::string(amz_date.substr(0, 8)) + "/" + std::string(region) + "/" +
         std::string(service) + "/aws4_request\n";
  out += Sha256Hex(canonical_request.data(), canonical_request.size());
  return out;
}

std::string Signature(std::string_view secret, std::string_view amz_date, std::string_view region,
                      std::string_view service, std::string_view string_to_sign) {
  std::string k = Hmac("AWS4" + std::string(secret), amz_date.substr(0, 8));
  k = Hmac(k, region);
  k = Hmac(k, service);
  k = Hmac(k, "aws4_request");
  return Hex(Hmac(k, string_to_sign));
}

std::string Authorization(const Credentials& c, const Request& r, std::string_view amz_date,
                          std::string_view region, std::string_view service) {
  const std::string sts = StringToSign(amz_date, region, service, CanonicalRequest(r));
  return "AWS4-HMAC-SHA256 Credential=" + c.access_key_id + "/" +
         std::string(amz_date.substr(0, 8)) + "/" + std::string(region) + "/" +
         std::string(service) + "/aws4_request, SignedHeaders=" + SignedHeaders(r) +
         ", Signature=" + Signature(c.secret_access_key, amz_date, region, service, sts);
}

}  // namespace df::backend::sigv4
