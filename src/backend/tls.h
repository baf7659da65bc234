// TLS options of a curl handle from HttpOptions (global CA / insecure, per-host overrides).
// Shared by the back-to-source backend and the dfdaemon proxy's upstream requests.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "dragonfly/backend/http_backend.h"

namespace df::backend {

// "host:port" (or "host") of an http(s) URL; empty if it has none.
std::string UrlAuthority(std::string_view url);

CURLcode ConfigureTls(CURL* curl, const HttpOptions& options, std::string_view url);

}  // namespace df::backend
