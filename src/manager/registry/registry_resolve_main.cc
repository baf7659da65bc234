// registry_resolve: test tool around ResolveImage. Prints the blobs of an image as JSON on
// stdout, or the error as one line on stderr with exit code 1. The output includes the
// authorizing headers (tokens): for tests only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "dragonfly/manager/registry.h"

namespace reg = df::manager::registry;

int main(int argc, char** argv) {
  CLI::App app{"registry_resolve: resolve an image manifest URL into the blobs to preheat"};
  reg::ResolveRequest request;
  std::vector<std::string> headers;
  app.add_option("--url", request.manifest_url,
                 "https://host[:port]/v2/<repository>/manifests/<tag|digest>")
      ->required();
  app.add_option("--platform", request.platform, "os/arch[/variant]")->capture_default_str();
  app.add_option("--username", request.username, "registry user");
  app.add_option("--password", request.password, "registry password");
  app.add_option("-H,--header", headers, "request header \"Name: value\" (repeatable)");
  app.add_option("--ca-cert", request.tls.ca_file, "CA bundle (PEM) to verify the registry");
  app.add_flag("--insecure", request.tls.insecure, "skip TLS verification");
  app.add_option("--timeout", request.timeout_s, "seconds for the whole resolution")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  for (const auto& h : headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos) {
      std::cerr << "registry_resolve: --header wants \"Name: value\"" << std::endl;
      return 2;
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    request.headers.emplace_back(h.substr(0, colon), value);
  }

  auto result = reg::ResolveImage(request);
  if (!result.ok()) {
    std::cerr << "registry_resolve: " << result.status().ToString() << std::endl;
    return 1;
  }
  nlohmann::json out;
  out["manifest_digest"] = result->manifest_digest;
  out["manifest_media_type"] = result->manifest_media_type;
  out["index_digest"] = result->index_digest;
  out["token_expires_in_s"] = result->token_expires_in_s;
  out["blobs"] = nlohmann::json::array();
  for (const auto& b : result->blobs) {
    out["blobs"].push_back(
        {{"url", b.url}, {"digest", b.digest}, {"size", b.size}, {"media_type", b.media_type}});
  }
  out["headers"] = nlohmann::json::array();
  for (const auto& [name, value] : result->headers) {
    out["headers"].push_back({name, value});
  }
  std::cout << out.dump(2) << std::endl;
  return 0;
}
