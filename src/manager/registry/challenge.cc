#include "manager/registry/challenge.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace df::manager::registry {
namespace {

bool IsTchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken68Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("-._~+/").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A cursor over a header value.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  size_t pos() const { return i_; }
  void set_pos(size_t pos) { i_ = pos; }
  void Advance() { ++i_; }

  void SkipSpaces() {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t')) {
      ++i_;
    }
  }

  std::string_view Token() {
    size_t begin = i_;
    while (!done() && IsTchar(s_[i_])) {
      ++i_;
    }
    return s_.substr(begin, i_ - begin);
  }

  // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", and it must be the
  // whole credentials: followed by spaces, then a comma or the end. Leaves the cursor after it.
  bool Token68(std::string* out) {
    size_t j = i_;
    while (j < s_.size() && IsToken68Char(s_[j])) {
      ++j;
    }
    if (j == i_) {
      return false;
    }
    while (j < s_.size() && s_[j] == '=') {
      ++j;
    }
    size_t k = j;
    while (k < s_.size() && (s_[k] == ' ' || s_[k] == '\t')) {
      ++k;
    }
    if (k < s_.size() && s_[k] != ',') {
      return false;
    }
    *out = std::string(s_.substr(i_, j - i_));
    i_ = k;
    return true;
  }

  // At a '"': the unescaped content; an unterminated string runs to the end.
  std::string Quoted() {
    std::string out;
    ++i_;
    while (!done()) {
      char c = s_[i_++];
      if (c == '"') {
        break;
      }
      if (c == '\\' && !done()) {
        c = s_[i_++];
      }
      out += c;
    }
    return out;
  }

  // Skips to just past the next comma (or to the end): recovery from garbage.
  void SkipPastComma() {
    while (!done() && s_[i_] != ',') {
      ++i_;
    }
    if (!done()) {
      ++i_;
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Parses "name = value" at the cursor into `c`; false (cursor unchanged) when the cursor is not
// at an auth-param (e.g. at the scheme of the next challenge).
bool ParseParam(Scanner& in, Challenge& c) {
  size_t start = in.pos();
  std::string_view name = in.Token();
  in.SkipSpaces();
  if (name.empty() || in.peek() != '=') {
    in.set_pos(start);
    return false;
  }
  in.Advance();
  in.SkipSpaces();
  std::string value = in.peek() == '"' ? in.Quoted() : std::string(in.Token());
  c.params[Lower(name)] = std::move(value);
  return true;
}

bool IsUnreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("-._~").find(c) != std::string_view::npos;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                 (static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                 static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t left = in.size() - i;
  if (left > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (left == 2) {
      v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    }
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string Challenge::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> ParseWwwAuthenticate(std::string_view value) {
  std::vector<Challenge> out;
  Scanner in(value);
  while (true) {
    in.SkipSpaces();
    while (in.peek() == ',') {
      in.Advance();
      in.SkipSpaces();
    }
    if (in.done()) {
      return out;
    }
    std::string_view scheme = in.Token();
    if (scheme.empty()) {
      in.SkipPastComma();
      continue;
    }
    Challenge c;
    c.scheme = Lower(scheme);
    in.SkipSpaces();
    if (!in.Token68(&c.token68) && ParseParam(in, c)) {
      // More params follow a comma; a token not followed by '=' starts the next challenge.
      while (true) {
        in.SkipSpaces();
        if (in.peek() != ',') {
          break;
        }
        size_t comma = in.pos();
        in.Advance();
        in.SkipSpaces();
        while (in.peek() == ',') {
          in.Advance();
          in.SkipSpaces();
        }
        if (!ParseParam(in, c)) {
          in.set_pos(comma);
          break;
        }
      }
    }
    out.push_back(std::move(c));
    in.SkipSpaces();
    if (!in.done() && in.peek() != ',') {
      in.SkipPastComma();  // garbage after the challenge
    }
  }
}

std::string TokenRequestUrl(std::string_view realm, std::string_view service,
                            const std::vector<std::string>& scopes) {
  std::string url(realm);
  char sep = url.find('?') == std::string::npos ? '?' : '&';
  auto add = [&](std::string_view name, std::string_view v) {
    url += sep;
    url += name;
    url += '=';
    url += PercentEncode(v);
    sep = '&';
  };
  if (!service.empty()) {
    add("service", service);
  }
  for (const auto& scope : scopes) {
    if (!scope.empty()) {
      add("scope", scope);
    }
  }
  return url;
}

StatusOr<Token> ParseTokenResponse(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return InvalidArgument("the token server's answer is not a JSON object");
  }
  Token out;
  for (const char* key : {"token", "access_token"}) {
    auto it = json.find(key);
    if (it != json.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
      out.token = it->get<std::string>();
      break;
    }
  }
  if (out.token.empty()) {
    return InvalidArgument("the token server's answer has no \"token\" nor \"access_token\"");
  }
  if (out.token.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return InvalidArgument("the token server's token has control characters");
  }
  auto expires = json.find("expires_in");
  if (expires != json.end() && expires->is_number_integer() && expires->get<int64_t>() > 0) {
    out.expires_in_s = expires->get<int64_t>();
  }
  return out;
}

std::string BasicAuthorization(std::string_view username, std::string_view password) {
  std::string credentials(username);
  credentials += ':';
  credentials += password;
  return "Basic " + Base64(credentials);
}

}  // namespace df::manager::registry
