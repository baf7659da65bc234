// What the object-store and hub backends share to list a prefix: a small answer (a listing page,
// an API document) read whole into memory, bounded; the prefix as a directory; and each listed
// name checked and turned into an entry. Internal to df_backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::backend {

// Fetches `request` with `http` and returns its body; ResourceExhausted (naming `what`) past
// `limit` bytes. `info`, when set, receives the response's status line facts.
StatusOr<std::string> FetchSmallBody(HttpBackend& http, const FetchRequest& request, size_t limit,
                                     const std::string& what, ResponseInfo* info = nullptr);

// The key or blob name of a listed URL taken as a directory: decoded, ending with '/' (empty for
// the whole bucket or container).
std::string DirectoryPrefix(std::string_view written);

// A name as it goes into an s3:// or abs:// URL: what would end the path or start an escape is
// escaped (the backends decode it again).
std::string NameForUrl(std::string_view name);

// Adds the object `name` of `size` bytes, listed under `prefix`, to `out` as
// `url_base + NameForUrl(name)`; a "folder" marker (a name ending with '/') is skipped.
// InvalidArgument for a name that would not be a file under the output directory (outside the
// prefix, "..", empty segments); ResourceExhausted when `out` already has `max` entries.
// `listed` names the listing in those errors.
Status AddListed(std::vector<ListedObject>* out, const std::string& name, const std::string& prefix,
                 const std::string& url_base, int64_t size, size_t max, const std::string& listed);

}  // namespace df::backend
