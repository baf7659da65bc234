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
  // Object storage credentials of this download (dfget --storage-*), used instead of the
  // daemons' by whichever daemon fetches from the store (the seed peer included). Empty: theirs.
  struct Storage {
    std::string access_key_id;      // S3: the access key ID; Azure: the account name
    std::string access_key_secret;  // S3: the secret; Azure: the account key
    std::string session_token;      // S3: temporary credentials' token; Azure: a SAS
    std::string region;             // S3
    bool empty() const {
      return access_key_id.empty() && access_key_secret.empty() && session_token.empty() &&
             region.empty();
    }
  } storage;
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

// dfget --hf-token / --hf-revision on an hf:// URL: the revision goes into the URL (part of the
// task ID: another revision is another task), the token into the Authorization header (sent to
// the seed peer like registry credentials, never part of the task ID). Without --hf-token,
// $DFGET_HF_TOKEN or $HF_TOKEN. InvalidArgument for the flags on another scheme.
Status ApplyHubFlags(std::string token, const std::string& revision, Options* o);

StatusOr<Result> Download(const Options& options);

}  // namespace df::dfget
