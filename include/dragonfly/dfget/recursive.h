// dfget -r: downloads every object under a directory-like URL (s3://bucket/prefix/) into a
// directory, each object a task of its own (so each is shared through P2P on its own), a few at a
// time, recreating the tree. The daemon lists (with its origin credentials); dfget checks every
// name again before it becomes a path. A file already there with the object's size is skipped,
// so a rerun transfers nothing new; a failure names the object and leaves no partial file (each
// file is written beside its place and renamed in whole, as by Download).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/dfget/dfget.h"

namespace df::dfget {

struct DirectoryOptions {
  Options base;                            // url: the directory; output: the local directory
  std::vector<std::string> include_files;  // shell globs on the relative path; empty = all
  uint32_t concurrency = 4;                // objects downloaded at once
};

struct DirectoryResult {
  size_t listed = 0;      // objects under the URL that the globs keep
  size_t downloaded = 0;  // ... downloaded now
  size_t skipped = 0;     // ... already there, whole
  uint64_t bytes = 0;     // downloaded now
  double seconds = 0;
};

// `progress` (may be null) is called after each object with the counts so far.
StatusOr<DirectoryResult> DownloadDirectory(
    const DirectoryOptions& options,
    const std::function<void(const DirectoryResult&, uint64_t total_bytes)>& progress = nullptr);

}  // namespace df::dfget
