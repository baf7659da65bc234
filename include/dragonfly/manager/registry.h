// Image resolution for the manager's image preheat: given the manifest URL of an image in an
// OCI distribution registry (Docker Hub, Harbor, docker-registry, ...) and credentials, returns
// every blob a container runtime fetches to pull the image for one platform (the config blob and
// the layers), with the headers that authorize fetching them.
//
// Speaks the distribution API the way containerd does: GET the manifest with an Accept listing
// the OCI manifest + index and Docker schema 2 manifest + manifest list types; answers a 401
// `Bearer` challenge with the Docker token flow (realm?service=&scope=, Basic-authenticated when
// credentials are known) and a `Basic` challenge with the credentials; picks the platform's
// manifest out of an index / manifest list.
//
// Credentials and tokens are never logged nor put in error messages. Thread-safe: every call is
// independent and blocks the calling thread (bounded by ResolveRequest::timeout_s).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::manager::registry {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kDefaultPlatform = "linux/amd64";

struct ResolveRequest {
  // "https://host[:port]/v2/<repository>/manifests/<tag|digest>" (or "http://").
  std::string manifest_url;
  // Sent with every registry request, e.g. {"Authorization", "Bearer <token>"} (Harbor sends its
  // robot credentials this way) or {"Authorization", "Basic <base64>"}. A Basic Authorization
  // here is also used to authenticate at the token server.
  HeaderList headers;
  // Alternative to an Authorization header: used for a Basic challenge and at the token server.
  std::string username;
  std::string password;
  // "os/arch[/variant]": selects the manifest of an index / manifest list. Empty = the default.
  std::string platform{kDefaultPlatform};
  // CA bundle / insecure (global or per host), connect timeout, retries of transient failures
  // (network errors, 429, 5xx) with backoff, redirects, user agent.
  backend::HttpOptions tls;
  // Bound of the whole resolution, all requests and retries included.
  long timeout_s = 60;
};

struct Blob {
  std::string url;  // "<scheme>://<host>/v2/<repository>/blobs/<digest>"
  std::string digest;
  int64_t size = 0;
  std::string media_type;
};

struct ResolveResult {
  // Digest of the image manifest of the chosen platform ("sha256:...").
  std::string manifest_digest;
  std::string manifest_media_type;
  // Digest of the index / manifest list the image manifest was chosen from; empty without one.
  std::string index_digest;
  // The config blob, then every layer, in manifest order.
  std::vector<Blob> blobs;
  // Headers that authorize the blob GETs: the caller's headers (except Accept), with
  // Authorization set to what the registry accepted ("Bearer <token>", "Basic ...").
  HeaderList headers;
  // Lifetime of the bearer token in `headers` as the token server announced it; 0 = unknown or
  // no token. Docker's token spec says 60 s when the server does not say.
  int64_t token_expires_in_s = 0;
};

// Errors (messages carry the URL, the registry's HTTP status and error code when there is one):
//   InvalidArgument  bad manifest URL (scheme, path, repository, tag or digest), bad platform,
//                    bad header, Docker schema 1 or another unsupported manifest media type,
//                    malformed manifest JSON;
//   Unauthenticated  401: credentials missing or rejected (registry or token server);
//   PermissionDenied 403;
//   NotFound         404: unknown repository / tag / digest; no manifest for the platform in the
//                    index (the message lists the platforms available);
//   DataLoss         manifest bytes do not match the digest they were asked by;
//   ResourceExhausted a manifest larger than 4 MiB;
//   Unavailable      network errors, 429 and 5xx after retries;
//   DeadlineExceeded timeout_s elapsed.
StatusOr<ResolveResult> ResolveImage(const ResolveRequest& request);

}  // namespace df::manager::registry
