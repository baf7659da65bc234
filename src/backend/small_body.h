// The body of a small answer (a listing page, an API document) read whole into memory, bounded.
// Internal to df_backend.
#pragma once

#include <cstddef>
#include <string>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::backend {

// Fetches `request` with `http` and returns its body; ResourceExhausted (naming `what`) past
// `limit` bytes. `info`, when set, receives the response's status line facts.
StatusOr<std::string> FetchSmallBody(HttpBackend& http, const FetchRequest& request, size_t limit,
                                     const std::string& what, ResponseInfo* info = nullptr);

}  // namespace df::backend
