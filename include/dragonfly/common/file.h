// Reading small files whole (certificates, keys, tokens): bounded, with errors that name the file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "dragonfly/common/status.h"

namespace df {

// The content of `path`; NotFound when it cannot be opened, InvalidArgument when it is larger than
// `max_bytes`.
StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 1 << 20);

// Whether `path` (e.g. an object's name relative to a listed prefix) is safe to recreate under an
// output directory: relative, no "." or ".." segment, no empty segment, no NUL or backslash,
// segments of at most 255 bytes.
bool SafeRelativePath(std::string_view path);

}  // namespace df
