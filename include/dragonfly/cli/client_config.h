// The clients' own config files, all optional: what a host sets once instead of passing flags
// every time (a flag always wins). dfget, dfctl and dfcache share /etc/dragonfly/dfget.yaml;
// dfinit reads /etc/dragonfly/dfinit.yaml, dfcert /etc/dragonfly/dfcert.yaml. Like the services'
// configs, unknown keys and bad values are refused naming the key; `<binary> config defaults`
// prints the file with every key and `config validate FILE` checks one.
#pragma once

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/cli/cli.h"
#include "dragonfly/common/status.h"

namespace df::cli {

// dfget.yaml: how dfget, dfctl and dfcache reach the local dfdaemon.
struct ClientConfig {
  std::string endpoint = "/var/run/dragonfly/dfdaemon.sock";  // the dfdaemon's unix socket
  std::chrono::milliseconds timeout{0};                       // dfget, dfcache export; 0: none
  bool operator==(const ClientConfig&) const = default;
};
inline constexpr char kClientConfigPath[] = "/etc/dragonfly/dfget.yaml";
std::string_view DefaultClientConfigYaml();

// dfinit.yaml: which registries the container runtimes pull through the mirror.
struct DfinitConfig {
  std::string mirror = "http://127.0.0.1:65001";  // the dfdaemon's registry mirror
  struct Containerd {
    std::string certs_dir = "/etc/containerd/certs.d";
    std::vector<std::string> registries;   // HOST[=SERVER_URL]
    std::vector<std::string> cas;          // HOST=PATH
    std::vector<std::string> skip_verify;  // HOST
    bool no_default = false;               // no _default/hosts.toml
    bool operator==(const Containerd&) const = default;
  } containerd;
  std::vector<std::string> crio_registries;  // crio.registries: HOST[=SERVER_URL]
  bool operator==(const DfinitConfig&) const = default;
};
inline constexpr char kDfinitConfigPath[] = "/etc/dragonfly/dfinit.yaml";
std::string_view DefaultDfinitConfigYaml();

// dfcert.yaml: validity of what dfcert makes.
struct DfcertConfig {
  std::chrono::milliseconds ca_ttl{std::chrono::hours(87600)};  // dfcert ca
  std::chrono::milliseconds cert_ttl{std::chrono::hours(720)};  // dfcert issue
  bool operator==(const DfcertConfig&) const = default;
};
inline constexpr char kDfcertConfigPath[] = "/etc/dragonfly/dfcert.yaml";
std::string_view DefaultDfcertConfigYaml();

// Each loads `path`; a missing file gives the defaults when `allow_missing` (the default path,
// not given on the command line), NotFound otherwise.
StatusOr<ClientConfig> LoadClientConfig(const std::string& path, bool allow_missing);
StatusOr<DfinitConfig> LoadDfinitConfig(const std::string& path, bool allow_missing);
StatusOr<DfcertConfig> LoadDfcertConfig(const std::string& path, bool allow_missing);
// The same, from YAML text ("" gives the defaults).
StatusOr<ClientConfig> ParseClientConfig(const std::string& yaml);
StatusOr<DfinitConfig> ParseDfinitConfig(const std::string& yaml);
StatusOr<DfcertConfig> ParseDfcertConfig(const std::string& yaml);

// A client's optional config file: `--config PATH` (default `default_path`, which may be
// missing: then the defaults) and `config defaults|validate`. After Parse, Load() gives the exit
// code when `config ...` ran or the file is bad (the reason printed), nullopt once value() holds
// the config.
template <typename Config>
class OptionalConfigFile {
 public:
  using Loader = StatusOr<Config> (*)(const std::string& path, bool allow_missing);

  OptionalConfigFile(CLI::App& app, const std::string& binary, const char* default_path,
                     std::string_view defaults, Loader load, const std::string& what)
      : binary_(binary),
        path_(default_path),
        load_(load),
        option_(app.add_option("--config", path_, what + " (used if it exists)")),
        commands_(app, binary, defaults,
                  [load](const std::string& path) { return load(path, false).status(); }) {}

  std::optional<int> Load() {
    if (auto code = commands_.Run()) {
      return code;
    }
    StatusOr<Config> c = load_(path_, option_->count() == 0);  // --config's must exist
    if (!c.ok()) {
      std::cerr << binary_ << ": " << c.status().message() << "\n";
      return kExitFailed;
    }
    value_ = std::move(c).value();
    return std::nullopt;
  }

  const Config& value() const { return value_; }
  const std::string& path() const { return path_; }

 private:
  std::string binary_;
  std::string path_;
  Loader load_;
  CLI::Option* option_;
  ConfigCommands commands_;
  Config value_;
};

}  // namespace df::cli
