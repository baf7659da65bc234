// Model hubs as origins: hf://[models/|datasets/|spaces/]owner/repo[/path][?revision=R] on the
// Hugging Face Hub or any server speaking its HTTP API (a mirror, set as the endpoint). A file is
// fetched through the hub's resolve endpoint, following its redirect to the LFS / Xet storage
// (where curl does not send the token: another host); a repository lists through the tree API at
// the one commit its revision names, so every file of a listing comes from the same commit and is
// its own task. The token travels in the request's Authorization header, as registry credentials
// do (dfget --hf-token); the daemon's own token is used when the request has none.
#pragma once

#include <memory>
#include <string>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::backend {

struct HubOptions {
  std::string endpoint;  // scheme://host[:port]; empty: https://huggingface.co
  std::string token;     // the daemon's own (private and gated repos); empty: none
  bool operator==(const HubOptions&) const = default;
};

// Fills what `o` leaves empty from the environment the hub's own tools read: HF_ENDPOINT, and
// HF_TOKEN (or HUGGING_FACE_HUB_TOKEN).
void FillHubOptionsFromEnvironment(HubOptions* o);
// InvalidArgument naming the setting: an endpoint that is not http(s)://host[:port].
Status ValidateHubOptions(const HubOptions& o);

// The parts of an hf:// URL.
struct HubLocation {
  std::string kind;      // "models", "datasets" or "spaces"
  std::string repo;      // "owner/name"
  std::string path;      // decoded; empty: the repository itself
  std::string revision;  // decoded; "main" when the URL has none
};
// InvalidArgument for a URL without owner/name, with a name the hub cannot have, or a path that
// leaves the repository ("..", empty segments).
StatusOr<HubLocation> ParseHubUrl(const std::string& url);
// "hf://[datasets/|spaces/]owner/name/path?revision=R" (revision left out when "main").
std::string HubUrl(const HubLocation& l);

// hf:// URLs fetched (resolve endpoint) and listed (revision, then tree pages) over `http` (not
// owned; outlives the backend).
std::unique_ptr<HttpBackend> NewHubBackend(HttpBackend& http, HubOptions o);

}  // namespace df::backend
