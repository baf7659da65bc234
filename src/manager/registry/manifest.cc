#include "manager/registry/manifest.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace df::manager::registry {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kSchema1Prefix = "application/vnd.docker.distribution.manifest.v1+";

std::string MediaTypeOf(std::string_view content_type) {
  std::string_view v = content_type.substr(0, content_type.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  std::string out(v);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string StringField(const Json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

StatusOr<Descriptor> ParseDescriptor(const Json& json, const std::string& where) {
  if (!json.is_object()) {
    return InvalidArgument(where + " is not an object");
  }
  Descriptor d;
  d.media_type = StringField(json, "mediaType");
  d.digest = StringField(json, "digest");
  if (!IsSupportedDigest(d.digest)) {
    return InvalidArgument(where + " has a missing or unsupported digest \"" +
                           d.digest.substr(0, 80) + "\"");
  }
  auto size = json.find("size");
  if (size == json.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return InvalidArgument(where + " (" + d.digest + ") has no valid size");
  }
  d.size = size->get<int64_t>();
  auto platform = json.find("platform");
  if (platform != json.end() && platform->is_object()) {
    Platform p;
    p.os = StringField(*platform, "os");
    p.architecture = StringField(*platform, "architecture");
    p.variant = StringField(*platform, "variant");
    d.platform = std::move(p);
  }
  return d;
}

bool IsImageType(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }
bool IsIndexType(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }

}  // namespace

std::string ManifestAccept() {
  return std::string(kOciManifest) + ", " + std::string(kOciIndex) + ", " +
         std::string(kDockerManifest) + ", " + std::string(kDockerManifestList);
}

StatusOr<Manifest> ParseManifest(std::string_view body, std::string_view content_type) {
  std::string header_type = MediaTypeOf(content_type);
  if (header_type.rfind(kSchema1Prefix, 0) == 0) {
    return InvalidArgument("Docker schema 1 manifests (" + header_type +
                           ") are not supported; push the image with a Docker schema 2 or OCI "
                           "manifest");
  }
  Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return InvalidArgument("the manifest is not a JSON object (Content-Type \"" + header_type +
                           "\")");
  }
  auto version = json.find("schemaVersion");
  if (version != json.end() && version->is_number_integer() && version->get<int64_t>() == 1) {
    return InvalidArgument(
        "Docker schema 1 manifests are not supported; push the image with a Docker schema 2 or "
        "OCI manifest");
  }
  if (version != json.end() && !(version->is_number_integer() && version->get<int64_t>() == 2)) {
    return InvalidArgument("unsupported manifest schemaVersion " + version->dump());
  }

  Manifest m;
  m.media_type = StringField(json, "mediaType");
  if (m.media_type.empty()) {
    if (IsImageType(header_type) || IsIndexType(header_type)) {
      m.media_type = header_type;
    } else if (json.contains("manifests")) {
      m.media_type = std::string(kOciIndex);
    } else if (json.contains("config") && json.contains("layers")) {
      m.media_type = std::string(kOciManifest);
    }
  }
  if (IsIndexType(m.media_type)) {
    m.kind = Manifest::Kind::kIndex;
    auto manifests = json.find("manifests");
    if (manifests == json.end() || !manifests->is_array()) {
      return InvalidArgument("the index (" + m.media_type + ") has no \"manifests\" array");
    }
    for (size_t i = 0; i < manifests->size(); ++i) {
      DF_ASSIGN_OR_RETURN(Descriptor d,
                          ParseDescriptor((*manifests)[i], "index entry " + std::to_string(i)));
      m.manifests.push_back(std::move(d));
    }
    return m;
  }
  if (!IsImageType(m.media_type)) {
    std::string shown = m.media_type.empty() ? header_type : m.media_type;
    return InvalidArgument("unsupported manifest media type \"" + shown.substr(0, 120) +
                           "\" (supported: " + ManifestAccept() + ")");
  }
  m.kind = Manifest::Kind::kImage;
  auto config = json.find("config");
  if (config == json.end()) {
    return InvalidArgument("the image manifest has no config");
  }
  DF_ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, "the config descriptor"));
  auto layers = json.find("layers");
  if (layers == json.end() || !layers->is_array()) {
    return InvalidArgument("the image manifest has no \"layers\" array");
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    DF_ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor((*layers)[i], "layer " + std::to_string(i)));
    m.layers.push_back(std::move(d));
  }
  return m;
}

StatusOr<Descriptor> SelectPlatform(const Manifest& index, const Platform& wanted) {
  for (const auto& d : index.manifests) {
    if (d.platform && PlatformMatches(wanted, *d.platform)) {
      return d;
    }
  }
  if (wanted.variant.empty()) {
    Platform w = NormalizePlatform(wanted);
    for (const auto& d : index.manifests) {
      if (!d.platform) {
        continue;
      }
      Platform c = NormalizePlatform(*d.platform);
      if (c.os == w.os && c.architecture == w.architecture) {
        return d;
      }
    }
  }
  std::vector<std::string> available;
  for (const auto& d : index.manifests) {
    if (!d.platform) {
      continue;
    }
    std::string p = d.platform->ToString();
    if (std::find(available.begin(), available.end(), p) == available.end()) {
      available.push_back(p);
    }
  }
  std::string list;
  for (const auto& p : available) {
    list += (list.empty() ? "" : ", ") + p;
  }
  return NotFound("no manifest for platform " + wanted.ToString() +
                  " in the index; available: " + (list.empty() ? "none" : list));
}

}  // namespace df::manager::registry
