// Azure Blob Storage as an origin: abs://container/blob, each request authorised with the
// account's Shared Key (signed anew for every request of a fetch: the signature covers its time
// and its Range) or with a SAS token. The credentials are the daemon's (config or environment),
// never logged nor part of a task ID; SAS parameters written into an abs:// URL are filtered
// out of its task ID.
#pragma once

#include <memory>
#include <string>

#include "dragonfly/backend/http_backend.h"
#include "dragonfly/common/status.h"

namespace df::backend {

struct AzureOptions {
  // scheme://host[:port][/account]; empty: https://<account>.blob.core.windows.net. A path is the
  // account in path style (Azurite: http://127.0.0.1:10000/devstoreaccount1).
  std::string endpoint;
  std::string account_name;
  std::string account_key;  // base64 Shared Key; empty: the SAS, or anonymous (public containers)
  std::string sas_token;    // "sv=…&sig=…" (a leading '?' is dropped)
  bool operator==(const AzureOptions&) const = default;
};

// Fills what `o` leaves empty from the environment Azure's tools read: AZURE_STORAGE_ACCOUNT,
// AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, or AZURE_STORAGE_CONNECTION_STRING (AccountName,
// AccountKey, BlobEndpoint, SharedAccessSignature, DefaultEndpointsProtocol, EndpointSuffix).
void FillAzureOptionsFromEnvironment(AzureOptions* o);
// InvalidArgument naming the setting: a bad endpoint, a key that is not base64, a key or an
// endpoint-less setup without an account name.
Status ValidateAzureOptions(const AzureOptions& o);

// The parts of "abs://container[/blob][?query]". InvalidArgument without a container.
struct AzureLocation {
  std::string container;
  std::string blob;  // as written (may be empty, percent-encoded or not)
  std::string query;
};
StatusOr<AzureLocation> ParseAbsUrl(const std::string& url);

// The HTTP(S) URL and headers of a GET of `blob` (empty: the container; `query` as sent, e.g. a
// listing's) carrying `range` ("bytes=a-b" or empty) at `date` (RFC 1123, "Mon, 07 Dec 2026
// 11:00:00 GMT"): Shared Key when the options have a key, else the SAS appended to the query.
StatusOr<SignedRequest> SignAzure(const AzureOptions& o, const std::string& container,
                                  const std::string& blob, const std::string& query,
                                  const std::string& range, const std::string& date);

// abs:// URLs fetched and listed (List Blobs pages) over `http` (not owned; outlives the
// backend).
std::unique_ptr<HttpBackend> NewAzureBackend(HttpBackend& http, AzureOptions o);

}  // namespace df::backend
