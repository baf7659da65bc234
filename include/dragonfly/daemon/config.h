// dfdaemon configuration (YAML, camelCase keys; /etc/dragonfly/dfdaemon.yaml by default).
// Unknown keys and bad values are rejected at start with a message naming the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/backend/azure.h"
#include "dragonfly/backend/hub.h"
#include "dragonfly/backend/s3.h"
#include "dragonfly/common/net.h"
#include "dragonfly/common/status.h"
#include "dragonfly/security/tls_settings.h"
#include "dragonfly/tracing/tracer.h"

namespace df::daemon {

using std::chrono::milliseconds;

struct DaemonConfig {
  struct Host {
    std::string hostname;  // default: gethostname()
    // The addresses announced to the scheduler (and so to other peers), IPv4 and/or IPv6, in
    // preference order; `ip` is the first (and names the host: "{ip}-{hostname}"). Unset: the
    // address upload.listen binds (every interface's global address for a wildcard).
    std::string ip;
    std::vector<std::string> ips;
    std::string idc;
    std::string location;
    bool operator==(const Host&) const = default;
  } host;
  struct Server {
    std::string socket_path = "/var/run/dragonfly/dfdaemon.sock";
    bool operator==(const Server&) const = default;
  } server;
  struct Scheduler {
    std::vector<std::string> addrs;  // host:port; empty = no scheduler (always back-to-source)
    milliseconds announce_interval{30000};
    milliseconds rpc_timeout{5000};
    // How long RETRY answers are accepted before asking to go back to source.
    milliseconds schedule_timeout{5000};
    bool back_to_source_when_unreachable = true;
    bool operator==(const Scheduler&) const = default;
  } scheduler;
  // The manager: which schedulers to use (ListSchedulers) and, for a seed peer, the KeepAlive
  // stream that registers it. See docs/architecture.md, "Manager connection".
  struct Manager {
    std::vector<std::string> addrs;          // host:port of the manager's gRPC; empty = no manager
    milliseconds refresh_interval{30000};    // ListSchedulers period
    milliseconds keep_alive_interval{2000};  // seed peers' KeepAlive period
    std::string token;  // the manager's auth.componentToken, when it requires one
    bool operator==(const Manager&) const = default;
  } manager;
  struct SeedPeer {
    bool enable = false;
    uint64_t cluster_id = 0;  // the manager's seed peer cluster; 0 = the default cluster
    bool operator==(const SeedPeer&) const = default;
  } seed_peer;
  security::TlsSettings tls;       // security: certificates for the ports that cross hosts
  tracing::TracingConfig tracing;  // tracing (OTLP); off without an endpoint
  struct Upload {
    std::string listen = "127.0.0.1:4005";      // piece port: neighbour connections
    std::string rpc_listen = "127.0.0.1:4000";  // DfdaemonUpload gRPC (seed trigger)
    uint32_t max_connections = 1024;  // neighbour connections (piece port); more are refused
    // Pieces this host uploads at once, to any neighbours of any tasks: enough concurrent
    // streams to keep the uplink full; further requests wait their turn, round-robin between
    // the neighbours asking (told to the scheduler as the host's capacity).
    uint32_t slots = 4;
    uint64_t rate_limit = 0;  // bytes/s; 0 = unlimited
    bool operator==(const Upload&) const = default;
  } upload;
  struct Download {
    uint32_t concurrent_piece_count = 2;  // requests outstanding per neighbour
    milliseconds piece_timeout{30000};    // a neighbour silent this long is dropped
    milliseconds stall_timeout{20000};    // no piece from any neighbour: ask for others
    bool operator==(const Download&) const = default;
  } download;
  struct Storage {
    std::string dir = "/var/lib/dragonfly/tasks";
    bool operator==(const Storage&) const = default;
  } storage;
  struct Gc {
    milliseconds interval{60000};
    milliseconds task_ttl{std::chrono::hours(24 * 7)};
    uint32_t disk_high_percent = 90;
    uint32_t disk_low_percent = 70;
    uint64_t capacity = 0;  // bytes; 0 = the whole filesystem
    bool operator==(const Gc&) const = default;
  } gc;
  struct BackSource {
    std::string ca_cert;
    bool insecure = false;
    uint32_t max_retries = 3;
    // Object stores and hubs (docs/backends.md); what is left empty comes from their tools'
    // environment (AWS_*, AZURE_STORAGE_*, HF_*).
    backend::S3Options s3;
    backend::AzureOptions azure;
    backend::HubOptions hugging_face;
    bool operator==(const BackSource&) const = default;
  } back_source;
  // HTTP proxy and registry mirror (one port). See docs/registry-mirror.md.
  struct Proxy {
    std::string listen = "127.0.0.1:65001";  // empty = off
    struct Rule {
      std::string regex;     // matched against the upstream URL without query
      bool use_tls = false;  // rewrite http:// to https:// for the upstream
      std::string redirect;  // replace the upstream authority (host:port)
      bool operator==(const Rule&) const = default;
    };
    std::vector<Rule> rules = {{"blobs/sha256.*", false, ""}};  // what goes through P2P
    struct RegistryMirror {
      std::string addr = "https://index.docker.io";  // upstream without header or ns=
      std::string ns_scheme = "https";               // scheme for ?ns=<host> upstreams
      bool enable_task_id_based_blob_digest = true;  // a blob's task ID is its digest
      bool operator==(const RegistryMirror&) const = default;
    } registry_mirror;
    struct Registry {
      std::string host;  // host:port
      std::string ca_cert;
      bool insecure = false;
      bool operator==(const Registry&) const = default;
    };
    std::vector<Registry> registries;  // per-upstream TLS (also used by back-to-source)
    std::string basic_auth_username;   // Proxy-Authorization for proxy (not mirror) requests
    std::string basic_auth_password;
    // Absolute-form and CONNECT targets (regex on "host:port") allowed besides rule matches.
    // When the proxy listens on loopback only, every target is allowed.
    std::vector<std::string> allow_hosts;
    uint32_t max_connections = 1024;
    // An upstream silent this long (no response, or a stalled body) is given up: 504/502.
    milliseconds upstream_timeout{30000};
    // A client connection without a complete request header this long (idle keep-alive
    // included) is closed, so slow or idle clients cannot hold the proxy's connection slots.
    milliseconds request_timeout{30000};
    // HTTPS interception (off unless `hosts` is set): CONNECT targets ("host:port") matching
    // one of the regexes are TLS-terminated by the proxy with a leaf certificate signed by this
    // CA; every other CONNECT is tunnelled untouched. With cert and key empty, a CA is
    // generated at first start as proxy-ca.crt / proxy-ca.key next to storage.dir.
    struct HijackHttps {
      std::string cert;
      std::string key;
      std::vector<std::string> hosts;
      bool operator==(const HijackHttps&) const = default;
    } hijack_https;
    bool operator==(const Proxy&) const = default;
  } proxy;
  struct Metrics {
    std::string listen = "127.0.0.1:4002";  // /metrics and /healthy; empty = off
    bool operator==(const Metrics&) const = default;
  } metrics;
  struct Log {
    std::string level = "info";
    std::string file;
    std::string format = "text";  // text or json (docs: common/logging.h)
    bool operator==(const Log&) const = default;
  } log;
  struct Testing {
    std::vector<uint32_t> corrupt_upload_pieces;  // pieces this daemon serves corrupted
    bool operator==(const Testing&) const = default;
  } testing;
  bool operator==(const DaemonConfig&) const = default;
};

// Parses and validates the YAML at `path`. NotFound if the file is missing.
StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path);
StatusOr<DaemonConfig> ParseDaemonConfig(const std::string& yaml);

// The full default config with a comment on every key (deploy/config/dfdaemon.yaml: what
// `dfdaemon config defaults` prints and the package installs); it parses to the defaults.
std::string_view DefaultConfigYaml();

using net::SplitHostPort;  // "host:port" → (host, port)

}  // namespace df::daemon
