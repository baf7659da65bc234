#include "backend/tls.h"

#include <mutex>

namespace df::backend {

std::string UrlAuthority(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return {};
  }
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    rest = rest.substr(at + 1);
  }
  return std::string(rest);
}

CURLcode ConfigureTls(CURL* curl, const HttpOptions& options, std::string_view url) {
  std::string ca = options.ca_file;
  bool insecure = options.insecure;
  std::string authority = UrlAuthority(url);
  auto it = options.host_tls.find(authority);
  if (it == options.host_tls.end()) {
    it = options.host_tls.find(authority.substr(0, authority.rfind(':')));
  }
  if (it != options.host_tls.end()) {
    if (!it->second.ca_file.empty()) {
      ca = it->second.ca_file;
    }
    insecure = insecure || it->second.insecure;
  }
  CURLcode rc = CURLE_OK;
  if (!ca.empty()) {
    rc = curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
  }
  if (rc == CURLE_OK && insecure) {
    rc = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    if (rc == CURLE_OK) {
      rc = curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  return rc;
}

CURLcode GlobalCurlInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

}  // namespace df::backend
