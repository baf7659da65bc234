// Manager configuration (YAML, camelCase keys; /etc/dragonfly/manager.yaml by default). The
// embedded default needs nothing else: SQLite next to the binary's data dir, in-process job
// workers. Unknown keys and bad values are rejected at start with a message naming the key.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/common/status.h"
#include "dragonfly/manager/db.h"
#include "dragonfly/security/tls_settings.h"
#include "dragonfly/tracing/tracer.h"

namespace df::manager {

using std::chrono::milliseconds;

inline constexpr char kDefaultConfigPath[] = "/etc/dragonfly/manager.yaml";

struct ManagerConfig {
  struct Server {
    std::string rest_listen = "127.0.0.1:8080";   // server.rest.addr: REST API + console
    std::string grpc_listen = "127.0.0.1:65003";  // server.grpc.addr: KeepAlive, ListSchedulers
    std::string name;                             // this replica's name in job claims
    uint64_t max_body_bytes = 1 << 20;            // REST request bodies larger get 413
    // server.requestTimeout: a REST connection without a complete request header this long
    // (idle keep-alive included) is closed (slow clients cannot hold connection slots).
    milliseconds request_timeout{30000};
    bool operator==(const Server&) const = default;
  } server;
  // database.type: sqlite (default), postgres or mysql; the section of that name holds the
  // connection (host, port, user, password, dbname; sqlite: path).
  db::Config database{db::Dialect::kSqlite, "/var/lib/dragonfly/manager.db"};
  struct Auth {
    // Initial password of user "root". Empty: a random one, written to <sqlite path>.root-password
    // (0600); required on PostgreSQL / MariaDB. There is no default password.
    std::string root_password;
    milliseconds jwt_timeout{std::chrono::hours(48)};
    bool open_api_anonymous = false;  // /oapi/v1 and Harbor's old API without credentials
    // POST /api/v1/users/signup makes anyone who reaches the REST port a guest (who reads
    // clusters, components and their own jobs). Off: root adds users.
    bool allow_sign_up = false;
    // Required from schedulers and daemons on the gRPC port (their manager.token) when set;
    // without it anything that reaches the port can register as a seed peer.
    std::string component_token;
    bool operator==(const Auth&) const = default;
  } auth;
  // console.dir: the web console's built files (console/, built by the project's build);
  // empty: the build's or the package's copy, found beside the executable (docs/console.md).
  struct Console {
    std::string dir;
    bool operator==(const Console&) const = default;
  } console;
  security::TlsSettings tls;       // security: certificates for the gRPC port and calls to daemons
  tracing::TracingConfig tracing;  // tracing (OTLP): a preheat job is one trace
  // The cluster CA (docs/security.md, "Joining with a bootstrap token"): with `ca.cert` and
  // `ca.key`, the manager issues certificates to schedulers, seed peers and daemons that join
  // with a bootstrap token, and renews them; both files are made at the first start when neither
  // exists. Without `security.cert`, the manager's own certificate comes from this CA too (kept
  // beside ca.key as manager.crt / manager.key and renewed like the others).
  struct Ca {
    std::string cert;
    std::string key;
    milliseconds cert_ttl{std::chrono::hours(24)};  // ca.certTTL: of the certificates it issues
    bool operator==(const Ca&) const = default;
  } ca;
  struct Job {
    uint32_t workers = 4;
    milliseconds poll_interval{1000};  // how often idle workers look for pending jobs
    milliseconds lease{15000};         // a running job whose manager is silent this long is
                                       // taken over by another replica
    milliseconds registry_timeout{60000};
    std::string registry_ca_cert;  // job.preheat.tls.caCert
    bool registry_insecure = false;
    milliseconds default_timeout{std::chrono::hours(1)};
    // Where preheat may point (the manager resolves the URL's host at job creation): an address
    // in `denied_networks` and not in `allowed_networks` is refused. Private, loopback,
    // link-local and other non-public ranges by default.
    std::vector<std::string> allowed_networks;
    std::vector<std::string> denied_networks = {"0.0.0.0/8",      "10.0.0.0/8",     "100.64.0.0/10",
                                                "127.0.0.0/8",    "169.254.0.0/16", "172.16.0.0/12",
                                                "192.168.0.0/16", "::/128",         "::1/128",
                                                "fc00::/7",       "fe80::/10"};
    bool operator==(const Job&) const = default;
  } job;
  struct KeepAlive {
    milliseconds interval{2000};  // components send one message per interval
    milliseconds timeout{6000};   // silent this long (or stream broken): inactive
    bool operator==(const KeepAlive&) const = default;
  } keep_alive;
  std::string metrics_listen;  // empty = off
  std::string log_level = "info";
  std::string log_format = "text";  // log.format: text or json
  bool operator==(const ManagerConfig&) const = default;
};

StatusOr<ManagerConfig> ParseManagerConfig(const std::string& yaml);
// A missing file is NotFound unless `allow_missing` (then the defaults).
StatusOr<ManagerConfig> LoadManagerConfig(const std::string& path, bool allow_missing);

// The full default config with a comment on every key (deploy/config/manager.yaml: what
// `manager config defaults` prints and the package installs); it parses to the defaults.
std::string_view DefaultConfigYaml();

}  // namespace df::manager
