// Reading small files whole (certificates, keys, tokens): bounded, with errors that name the file.
#pragma once

#include <cstddef>
#include <string>

#include "dragonfly/common/status.h"

namespace df {

// The content of `path`; NotFound when it cannot be opened, InvalidArgument when it is larger than
// `max_bytes`.
StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace df
