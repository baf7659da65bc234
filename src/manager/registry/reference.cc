#include "manager/registry/reference.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace df::manager::registry {
namespace {

constexpr std::string_view kV2 = "/v2/";
constexpr std::string_view kManifests = "/manifests/";
constexpr size_t kMaxRepositoryLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsLowerHex(char c) { return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) {
    return false;
  }
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) {
      ++j;
    }
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (sep != "." && sep != "_" && sep != "__" && !dashes) {
      return false;
    }
    i = j;
  }
  return true;
}

// "host[:port]": a DNS name or IPv4 address, or a bracketed IPv6 address; port 1-65535.
bool IsValidAuthority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) {
      return false;
    }
    std::string_view inside = authority.substr(1, close - 1);
    if (!std::all_of(inside.begin(), inside.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
        })) {
      return false;
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      port = rest.substr(1);
      if (port.empty()) {
        return false;
      }
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return false;
      }
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' ||
                 c == '_';
        })) {
      return false;
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), IsDigit)) {
      return false;
    }
    int value = 0;
    for (char c : port) {
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) {
      return false;
    }
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) {
      return out;
    }
    start = pos + 1;
  }
}

}  // namespace

std::string ManifestUrl::ManifestUrlFor(std::string_view ref) const {
  return scheme + "://" + authority + std::string(kV2) + repository + std::string(kManifests) +
         std::string(ref);
}

std::string ManifestUrl::BlobUrl(std::string_view digest) const {
  return scheme + "://" + authority + std::string(kV2) + repository + "/blobs/" +
         std::string(digest);
}

std::string ManifestUrl::ImageName() const {
  return authority + "/" + repository + (by_digest ? "@" : ":") + reference;
}

bool IsSupportedDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  std::string_view algorithm = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  size_t want = algorithm == "sha256" ? 64 : algorithm == "sha512" ? 128 : 0;
  return want != 0 && hex.size() == want && std::all_of(hex.begin(), hex.end(), IsLowerHex);
}

bool IsValidTag(std::string_view tag) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  return !tag.empty() && tag.size() <= kMaxTagLength && word(tag.front()) &&
         std::all_of(tag.begin(), tag.end(),
                     [&word](char c) { return word(c) || c == '.' || c == '-'; });
}

bool IsValidRepository(std::string_view repository) {
  if (repository.empty() || repository.size() > kMaxRepositoryLength) {
    return false;
  }
  auto parts = Split(repository, '/');
  return std::all_of(parts.begin(), parts.end(), IsValidPathComponent);
}

StatusOr<ManifestUrl> ParseManifestUrl(std::string_view url) {
  auto invalid = [&url](const std::string& why) {
    return InvalidArgument("invalid manifest URL \"" + std::string(url) + "\": " + why +
                           " (want http(s)://host[:port]/v2/<repository>/manifests/<tag or "
                           "digest>)");
  };
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return invalid("no scheme");
  }
  ManifestUrl out;
  out.scheme = Lower(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") {
    return invalid("unsupported scheme \"" + out.scheme + "\", only http and https are");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  size_t path_begin = rest.find('/');
  std::string_view authority = rest.substr(0, path_begin);
  if (authority.find('@') != std::string_view::npos) {
    // Never echo the URL: it holds credentials.
    return InvalidArgument(
        "invalid manifest URL: credentials in the URL are not supported, pass them as "
        "username/password or an Authorization header");
  }
  if (!IsValidAuthority(authority)) {
    return invalid("bad host \"" + std::string(authority) + "\"");
  }
  out.authority = std::string(authority);
  if (path_begin == std::string_view::npos) {
    return invalid("no path");
  }
  std::string_view path = rest.substr(path_begin);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return invalid("query strings and fragments are not supported");
  }
  if (path.substr(0, kV2.size()) != kV2) {
    return invalid("the path does not start with /v2/");
  }
  size_t manifests = path.rfind(kManifests);
  if (manifests == std::string_view::npos || manifests < kV2.size()) {
    return invalid("the path has no /manifests/<reference>");
  }
  std::string_view repository = path.substr(kV2.size(), manifests - kV2.size());
  std::string_view reference = path.substr(manifests + kManifests.size());
  if (!IsValidRepository(repository)) {
    return invalid("bad repository name \"" + std::string(repository) +
                   "\" (lower-case letters, digits and separators . _ - /)");
  }
  out.repository = std::string(repository);
  if (reference.find(':') != std::string_view::npos) {
    if (!IsSupportedDigest(reference)) {
      return invalid("bad or unsupported digest \"" + std::string(reference) +
                     "\" (want sha256:<64 hex> or sha512:<128 hex>)");
    }
    out.by_digest = true;
  } else if (!IsValidTag(reference)) {
    return invalid("bad tag \"" + std::string(reference) + "\"");
  }
  out.reference = std::string(reference);
  return out;
}

std::string Platform::ToString() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) {
    out += "/" + variant;
  }
  return out;
}

StatusOr<Platform> ParsePlatform(std::string_view spec) {
  auto parts = Split(spec, '/');
  auto valid_part = [](std::string_view p) {
    return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
    });
  };
  if (parts.size() < 2 || parts.size() > 3 ||
      !std::all_of(parts.begin(), parts.end(), valid_part)) {
    return InvalidArgument("invalid platform \"" + std::string(spec) +
                           "\": want os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8");
  }
  Platform p;
  p.os = Lower(parts[0]);
  p.architecture = Lower(parts[1]);
  if (parts.size() == 3) {
    p.variant = Lower(parts[2]);
  }
  return p;
}

Platform NormalizePlatform(Platform p) {
  p.os = Lower(p.os);
  p.architecture = Lower(p.architecture);
  p.variant = Lower(p.variant);
  if (p.os == "macos") {
    p.os = "darwin";
  }
  std::string& arch = p.architecture;
  std::string& variant = p.variant;
  if (arch == "i386") {
    arch = "386";
    variant.clear();
  } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    arch = "amd64";
    if (variant == "v1") {
      variant.clear();
    }
  } else if (arch == "aarch64" || arch == "arm64") {
    arch = "arm64";
    if (variant.empty() || variant == "8" || variant == "v8") {
      variant = "v8";
    }
  } else if (arch == "armhf") {
    arch = "arm";
    variant = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    variant = "v6";
  } else if (arch == "arm") {
    if (variant.empty()) {
      variant = "v7";
    } else if (variant.size() == 1 && IsDigit(variant[0])) {
      variant = "v" + variant;
    }
  }
  return p;
}

bool PlatformMatches(const Platform& wanted, const Platform& candidate) {
  Platform a = NormalizePlatform(wanted);
  Platform b = NormalizePlatform(candidate);
  return a.os == b.os && a.architecture == b.architecture && a.variant == b.variant;
}

}  // namespace df::manager::registry
