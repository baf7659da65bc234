// Registry manifests and indexes as a registry (or anyone in between) may send them.
#include <cstdint>
#include <string_view>

#include "manager/registry/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (std::string_view type :
       {"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json", ""}) {
    (void)df::manager::registry::ParseManifest(in, type);
  }
  return 0;
}
