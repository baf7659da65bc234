// The origin the daemon fetches from and lists through, whatever the URL's scheme: http(s)://
// over libcurl, s3:// signed with AWS Signature V4, abs:// (Azure Blob) with a Shared Key or a
// SAS, hf:// through a model hub's API. One interface (HttpBackend) for the back-to-source path,
// the seed peer, preheat and dfget -r (docs/backends.md).
#pragma once

#include <memory>
#include <string>

#include "dragonfly/backend/azure.h"
#include "dragonfly/backend/http_backend.h"
#include "dragonfly/backend/hub.h"
#include "dragonfly/backend/s3.h"
#include "dragonfly/common/status.h"

namespace df::backend {

struct OriginOptions {
  S3Options s3;
  AzureOptions azure;
  HubOptions hub;
};

// Fills each store's settings left empty from its tools' environment (AWS_*, AZURE_STORAGE_*,
// HF_*) and checks them; InvalidArgument naming the setting.
Status PrepareOriginOptions(OriginOptions* o);

// Whether the daemon fetches URLs of this scheme ("http", "https", "s3", "abs", "hf").
bool IsOriginScheme(const std::string& scheme);

// Dispatches by scheme; any other scheme is InvalidArgument.
std::unique_ptr<HttpBackend> NewOriginBackend(std::unique_ptr<HttpBackend> http, OriginOptions o);

}  // namespace df::backend
