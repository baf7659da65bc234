#include "dragonfly/manager/registry.h"

#include <memory>
#include <optional>
#include <string_view>

#include "dragonfly/common/digest.h"
#include "manager/registry/manifest.h"
#include "manager/registry/reference.h"
#include "manager/registry/session.h"

namespace df::manager::registry {
namespace {

constexpr size_t kMaxManifestBytes = 4 << 20;
// An index entry naming another index is followed this many times at most.
constexpr int kMaxIndexDepth = 2;

// The digest of a manifest body: checked against the digest it was asked by, the registry's
// Docker-Content-Digest and the size the index announced.
StatusOr<std::string> ManifestDigest(const Session::Response& response, const std::string& url,
                                     const std::optional<std::string>& by_digest,
                                     const std::optional<int64_t>& expected_size) {
  const std::string& body = response.body;
  if (expected_size && static_cast<int64_t>(body.size()) != *expected_size) {
    return DataLoss("manifest " + url + " has " + std::to_string(body.size()) +
                    " bytes, the index says " + std::to_string(*expected_size));
  }
  if (by_digest) {
    DF_ASSIGN_OR_RETURN(std::unique_ptr<DigestVerifier> verifier, ParseDigest(*by_digest));
    verifier->Update(body.data(), body.size());
    Status verified = verifier->Verify();
    if (!verified.ok()) {
      return verified.Annotate("manifest " + url);
    }
    return *by_digest;
  }
  std::string digest = "sha256:" + Sha256Hex(body.data(), body.size());
  const std::string& announced = response.docker_content_digest;
  if (announced.rfind("sha256:", 0) == 0 && announced != digest) {
    return DataLoss("manifest " + url + " has digest " + digest +
                    ", the registry's Docker-Content-Digest says " + announced.substr(0, 80));
  }
  return digest;
}

StatusOr<ResolveResult> Resolve(const ResolveRequest& request, const ManifestUrl& target,
                                const Platform& platform) {
  DF_ASSIGN_OR_RETURN(std::unique_ptr<Session> session, Session::Create(request, target));
  ResolveResult result;
  std::string reference = target.reference;
  std::optional<std::string> by_digest;
  if (target.by_digest) {
    by_digest = target.reference;
  }
  std::optional<int64_t> expected_size;
  for (int depth = 0;; ++depth) {
    const std::string url = target.ManifestUrlFor(reference);
    DF_ASSIGN_OR_RETURN(Session::Response response, session->GetManifest(url, kMaxManifestBytes));
    DF_ASSIGN_OR_RETURN(std::string digest,
                        ManifestDigest(response, url, by_digest, expected_size));
    StatusOr<Manifest> parsed = ParseManifest(response.body, response.content_type);
    if (!parsed.ok()) {
      return parsed.status().Annotate("manifest " + url);
    }
    Manifest& manifest = *parsed;
    if (manifest.kind == Manifest::Kind::kImage) {
      result.manifest_digest = digest;
      result.manifest_media_type = manifest.media_type;
      result.blobs.reserve(manifest.layers.size() + 1);
      auto add = [&](const Descriptor& d) {
        result.blobs.push_back({target.BlobUrl(d.digest), d.digest, d.size, d.media_type});
      };
      add(manifest.config);
      for (const auto& layer : manifest.layers) {
        add(layer);
      }
      break;
    }
    if (depth >= kMaxIndexDepth) {
      return InvalidArgument("manifest " + url + ": indexes nested more than " +
                             std::to_string(kMaxIndexDepth) + " deep");
    }
    if (result.index_digest.empty()) {
      result.index_digest = digest;
    }
    DF_ASSIGN_OR_RETURN(Descriptor chosen, SelectPlatform(manifest, platform));
    if (chosen.size > static_cast<int64_t>(kMaxManifestBytes)) {
      return ResourceExhausted("the index names a " + std::to_string(chosen.size) +
                               "-byte manifest for " + platform.ToString() + ", over the " +
                               std::to_string(kMaxManifestBytes) + "-byte limit");
    }
    reference = chosen.digest;
    by_digest = chosen.digest;
    expected_size = chosen.size;
  }
  result.headers = session->BlobHeaders();
  result.token_expires_in_s = session->token_expires_in_s();
  return result;
}

}  // namespace

StatusOr<ResolveResult> ResolveImage(const ResolveRequest& request) {
  DF_ASSIGN_OR_RETURN(ManifestUrl target, ParseManifestUrl(request.manifest_url));
  DF_ASSIGN_OR_RETURN(Platform platform,
                      ParsePlatform(request.platform.empty() ? std::string_view(kDefaultPlatform)
                                                             : std::string_view(request.platform)));
  StatusOr<ResolveResult> result = Resolve(request, target, platform);
  if (!result.ok()) {
    return result.status().Annotate("resolving image " + target.ImageName() + " for " +
                                    platform.ToString());
  }
  return result;
}

}  // namespace df::manager::registry
