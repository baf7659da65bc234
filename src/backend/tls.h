// libcurl helpers: TLS options of a curl handle from HttpOptions (global CA / insecure,
// per-host overrides) and the one-time global init. Shared by the back-to-source backend, the
// dfdaemon proxy's upstream requests and the manager's registry client.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "dragonfly/backend/http_backend.h"

namespace df::backend {

// "host:port" (or "host") of an http(s) URL; empty if it has none.
std::string UrlAuthority(std::string_view url);

CURLcode ConfigureTls(CURL* curl, const HttpOptions& options, std::string_view url);

// curl_global_init, once per process (thread-safe); returns its result every time.
CURLcode GlobalCurlInit();

}  // namespace df::backend
