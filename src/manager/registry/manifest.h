// Parsing of image manifests and indexes (OCI image-spec and Docker schema 2), and the choice of
// a platform's manifest in an index. Pure functions over the bytes a registry returned.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"
#include "manager/registry/reference.h"

namespace df::manager::registry {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";

// The Accept header of manifest requests: every type ParseManifest understands.
std::string ManifestAccept();

struct Descriptor {
  std::string media_type;
  std::string digest;  // validated: IsSupportedDigest
  int64_t size = 0;    // >= 0
  std::optional<Platform> platform;
};

struct Manifest {
  enum class Kind { kImage, kIndex };
  Kind kind = Kind::kImage;
  std::string media_type;
  Descriptor config;                  // kImage
  std::vector<Descriptor> layers;     // kImage
  std::vector<Descriptor> manifests;  // kIndex
};

// Parses a manifest body. `content_type` is the response's Content-Type (parameters ignored;
// may be empty); the body's own "mediaType" wins over it, and without either the structure
// decides. InvalidArgument for Docker schema 1, other unsupported media types, malformed JSON
// and bad descriptors (digest, size).
StatusOr<Manifest> ParseManifest(std::string_view body, std::string_view content_type);

// The entry of index `index` for `wanted`: the first that matches it (PlatformMatches); when
// `wanted` has no variant and nothing matches, the first entry of the same os/architecture.
// NotFound listing the platforms the index has otherwise.
StatusOr<Descriptor> SelectPlatform(const Manifest& index, const Platform& wanted);

}  // namespace df::manager::registry
