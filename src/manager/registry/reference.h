// Pure parsing of what a preheat request names: the manifest URL (registry, repository,
// reference), digests, and the "os/arch[/variant]" platform with containerd-style matching.
#pragma once

#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df::manager::registry {

// "scheme://authority/v2/<repository>/manifests/<reference>", split and validated.
struct ManifestUrl {
  std::string scheme;      // "http" or "https"
  std::string authority;   // "host[:port]"
  std::string repository;  // "library/alpine"
  std::string reference;   // a tag or a digest
  bool by_digest = false;  // `reference` is a digest

  // "scheme://authority/v2/<repository>/manifests/<reference>".
  std::string ManifestUrlFor(std::string_view reference) const;
  // "scheme://authority/v2/<repository>/blobs/<digest>".
  std::string BlobUrl(std::string_view digest) const;
  // The original reference, for messages: "authority/repository:tag" or "...@digest".
  std::string ImageName() const;
};

// InvalidArgument (with the reason) unless `url` is an http(s) manifest URL with a valid
// repository name and tag or digest. URLs with credentials, a query or a fragment are rejected.
StatusOr<ManifestUrl> ParseManifestUrl(std::string_view url);

// True for "sha256:<64 lower-case hex>" and "sha512:<128 lower-case hex>", the algorithms whose
// digests we can verify.
bool IsSupportedDigest(std::string_view digest);

// Distribution's tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool IsValidTag(std::string_view tag);

// Distribution's repository name grammar: lower-case path components separated by '/', each
// [a-z0-9]+ joined by '.', '_', '__' or runs of '-'; at most 255 characters.
bool IsValidRepository(std::string_view repository);

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;  // may be empty

  // "os/arch" or "os/arch/variant".
  std::string ToString() const;
};

// Parses "os/arch[/variant]" (case-insensitive, stored lower-case). InvalidArgument otherwise.
StatusOr<Platform> ParsePlatform(std::string_view spec);

// containerd's normalization: architecture aliases (x86_64 -> amd64, aarch64 -> arm64, armhf ->
// arm/v7, ...) and default variants (arm64 -> v8, arm -> v7, amd64/v1 -> no variant).
Platform NormalizePlatform(Platform platform);

// True when both name the same platform after normalization.
bool PlatformMatches(const Platform& wanted, const Platform& candidate);

}  // namespace df::manager::registry
