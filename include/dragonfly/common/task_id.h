// Task IDs, compatible with Dragonfly v2's URL-based rule:
//   hex(SHA256(filteredURL ‖ tag ‖ application ‖ decimal(pieceLength)? ‖ "STANDARD"))
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df {

// S3, GCS, OSS, OBS and COS signature parameters plus containerd's "ns".
const std::vector<std::string>& DefaultFilteredQueryParams();

// Drops query parameters whose key is in `filtered` (exact, case-sensitive), keeping the order
// of the others (and, for abs:// URLs, an Azure SAS's parameters: sv, sig, se, …); drops "?"
// when no parameter is left and trims a root path's trailing "/".
// Fails on a URL that is not absolute http(s)/other-scheme form.
StatusOr<std::string> FilterUrl(const std::string& url, const std::vector<std::string>& filtered);

struct TaskIdInput {
  std::string url;
  std::string tag;
  std::string application;
  std::optional<uint32_t> piece_length;            // only when the user gave one
  std::vector<std::string> filtered_query_params;  // empty = defaults
};

StatusOr<std::string> MakeTaskId(const TaskIdInput& in);

// The ID of a persistent cache task (dfcache import), Dragonfly's rule: hex SHA-256 of the file's
// bytes, then the tag, the application, the piece length in decimal when the user gave one, and
// "PERSISTENT_CACHE". The same content under the same tag and application is one task.
class PersistentCacheTaskId {
 public:
  PersistentCacheTaskId();
  ~PersistentCacheTaskId();
  PersistentCacheTaskId(const PersistentCacheTaskId&) = delete;
  PersistentCacheTaskId& operator=(const PersistentCacheTaskId&) = delete;
  void Update(const void* data, size_t n);  // the content, in order
  std::string Finish(const std::string& tag, const std::string& application,
                     std::optional<uint32_t> piece_length);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A persistent cache task's URL: "dfcache://<task_id>" (no origin: its holders are its sources).
inline constexpr char kPersistentCacheScheme[] = "dfcache://";
bool IsPersistentCacheUrl(const std::string& url);
std::string PersistentCacheUrl(const std::string& task_id);

// "sha256:<hex>" when the URL's path names an OCI blob (".../v2/<name>/blobs/sha256:<hex>"),
// else "".
std::string BlobDigest(const std::string& url);

// The digest the content of task `task_id` must have: "sha256:<id>" when the ID is the digest of
// the blob `url` names (the registry mirror's and preheat's rule), else "".
std::string ContentDigestOf(const std::string& task_id, const std::string& url);

// "{ip}-{hostname}" and "{ip}-{hostname}-seed".
std::string MakeHostId(const std::string& ip, const std::string& hostname, bool seed);
// "{ip}-{hostname}-{uuid4}" (+ "-seed").
std::string MakePeerId(const std::string& ip, const std::string& hostname, bool seed);

}  // namespace df
