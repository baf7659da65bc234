#include "dragonfly/cli/client_config.h"

#include <yaml-cpp/yaml.h>

#include "dragonfly/common/config.h"

namespace df::cli {
namespace {

using config::CheckKeys;
using config::Read;

Status ReadClient(const YAML::Node& root, ClientConfig* c) {
  DF_RETURN_IF_ERROR(CheckKeys(root, "", {"endpoint", "timeout"}));
  DF_RETURN_IF_ERROR(Read(root, "", "endpoint", &c->endpoint));
  DF_RETURN_IF_ERROR(Read(root, "", "timeout", &c->timeout));
  if (c->endpoint.empty()) {
    return InvalidArgument("config key 'endpoint' must name the dfdaemon's socket");
  }
  if (c->timeout.count() < 0) {
    return InvalidArgument("config key 'timeout' must not be negative");
  }
  return Status::Ok();
}

Status ReadDfinit(const YAML::Node& root, DfinitConfig* c) {
  DF_RETURN_IF_ERROR(CheckKeys(root, "", {"mirror", "containerd", "crio"}));
  DF_RETURN_IF_ERROR(Read(root, "", "mirror", &c->mirror));
  const YAML::Node ctd = root["containerd"];
  const std::string p = "containerd";
  DF_RETURN_IF_ERROR(
      CheckKeys(ctd, p, {"certsDir", "registries", "ca", "skipVerify", "noDefault"}));
  DF_RETURN_IF_ERROR(Read(ctd, p, "certsDir", &c->containerd.certs_dir));
  DF_RETURN_IF_ERROR(Read(ctd, p, "registries", &c->containerd.registries));
  DF_RETURN_IF_ERROR(Read(ctd, p, "ca", &c->containerd.cas));
  DF_RETURN_IF_ERROR(Read(ctd, p, "skipVerify", &c->containerd.skip_verify));
  DF_RETURN_IF_ERROR(Read(ctd, p, "noDefault", &c->containerd.no_default));
  const YAML::Node crio = root["crio"];
  DF_RETURN_IF_ERROR(CheckKeys(crio, "crio", {"registries"}));
  DF_RETURN_IF_ERROR(Read(crio, "crio", "registries", &c->crio_registries));
  if (c->mirror.empty() || c->containerd.certs_dir.empty()) {
    return InvalidArgument("config keys 'mirror' and 'containerd.certsDir' must not be empty");
  }
  return Status::Ok();
}

Status ReadDfcert(const YAML::Node& root, DfcertConfig* c) {
  DF_RETURN_IF_ERROR(CheckKeys(root, "", {"caTTL", "certTTL"}));
  DF_RETURN_IF_ERROR(Read(root, "", "caTTL", &c->ca_ttl));
  DF_RETURN_IF_ERROR(Read(root, "", "certTTL", &c->cert_ttl));
  if (c->ca_ttl < std::chrono::minutes(1) || c->cert_ttl < std::chrono::minutes(1)) {
    return InvalidArgument("config keys 'caTTL' and 'certTTL' must be at least 1m");
  }
  return Status::Ok();
}

// Parses a document with `read`; a YAML shape the readers did not expect is a clear error.
template <typename Config, typename Reader>
StatusOr<Config> FromNode(const YAML::Node& root, Reader read) {
  Config c;
  try {
    DF_RETURN_IF_ERROR(read(root, &c));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("bad config: ") + e.what());
  }
  return c;
}

template <typename Config, typename Reader>
StatusOr<Config> FromText(const std::string& yaml, Reader read) {
  try {
    return FromNode<Config>(YAML::Load(yaml), read);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("bad YAML: ") + e.what());
  }
}

template <typename Config, typename Reader>
StatusOr<Config> FromFile(const std::string& path, bool allow_missing, Reader read) {
  StatusOr<YAML::Node> root = config::LoadFile(path);
  if (!root.ok()) {
    if (allow_missing && root.status().code() == StatusCode::kNotFound) {
      return Config{};
    }
    return root.status();
  }
  StatusOr<Config> c = FromNode<Config>(*root, read);
  return c.ok() ? c : StatusOr<Config>(c.status().Annotate(path));
}

}  // namespace

StatusOr<ClientConfig> LoadClientConfig(const std::string& path, bool allow_missing) {
  return FromFile<ClientConfig>(path, allow_missing, ReadClient);
}
StatusOr<DfinitConfig> LoadDfinitConfig(const std::string& path, bool allow_missing) {
  return FromFile<DfinitConfig>(path, allow_missing, ReadDfinit);
}
StatusOr<DfcertConfig> LoadDfcertConfig(const std::string& path, bool allow_missing) {
  return FromFile<DfcertConfig>(path, allow_missing, ReadDfcert);
}
StatusOr<ClientConfig> ParseClientConfig(const std::string& yaml) {
  return FromText<ClientConfig>(yaml, ReadClient);
}
StatusOr<DfinitConfig> ParseDfinitConfig(const std::string& yaml) {
  return FromText<DfinitConfig>(yaml, ReadDfinit);
}
StatusOr<DfcertConfig> ParseDfcertConfig(const std::string& yaml) {
  return FromText<DfcertConfig>(yaml, ReadDfcert);
}

}  // namespace df::cli
