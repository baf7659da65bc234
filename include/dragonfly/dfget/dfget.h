// dfget: downloads a URL through the local dfdaemon. The daemon fetches the task (from peers,
// a seed peer or the origin) into its store; dfget streams the verified, contiguous prefix of
// the task file into a temporary file beside the output as it grows, and renames it into place
// only when the download (and digest check) succeeded, so no partial file is ever left at PATH.
// Output "-" streams the bytes to standard output in order as they land (for a pipe: `dfget URL
// -O - | tar x`); there a failed digest check shows only in the exit status, after the bytes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "dragonfly/common/status.h"

namespace df::dfget {

struct Options {
  std::string url;
  std::string output;
  std::string digest;
  std::map<std::string, std::string> headers;
  std::string tag;
  std::string application;
  std::vector<std::string> filtered_query_params;
  uint64_t timeout_ms = 0;
  uint32_t piece_length = 0;
  bool disable_back_to_source = false;
  std::string endpoint = "/var/run/dragonfly/dfdaemon.sock";
  bool progress = false;  // draw a progress bar on stderr
  bool verbose = false;   // print a summary line
};

struct Result {
  uint64_t bytes = 0;
  uint64_t back_to_source = 0;
  uint64_t remote_peer = 0;  // from other hosts, seed peers included
  uint64_t seed_peer = 0;
  uint64_t local = 0;
  bool cache_hit = false;
  std::string warning;
  double seconds = 0;
};

// Parses "Key: Value".
StatusOr<std::pair<std::string, std::string>> ParseHeader(const std::string& h);

StatusOr<Result> Download(const Options& options);

}  // namespace df::dfget
