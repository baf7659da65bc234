// Scheduler configuration: tunables of the scheduling state plus listen addresses, loaded from a
// strict YAML file (camelCase keys; an unknown key fails naming it).
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "dragonfly/common/net.h"
#include "dragonfly/common/status.h"
#include "dragonfly/security/tls_settings.h"
#include "dragonfly/tracing/tracer.h"

namespace df::scheduler {

inline constexpr char kDefaultConfigPath[] = "/etc/dragonfly/scheduler.yaml";

// Tunables of SchedulerState. YAML section `scheduler`.
struct SchedulerOptions {
  uint32_t candidate_parent_limit = 8;  // neighbours handed out per registration
  // Peers of a task sampled at random per registration and scored (Dragonfly's
  // filterParentLimit): a decision costs O(this), not O(peers of the task).
  uint32_t filter_parent_limit = 40;
  uint32_t back_to_source_count = 3;  // normal peers per task allowed to fetch from the origin
  std::chrono::milliseconds retry_interval{200};
  std::chrono::milliseconds peer_ttl{std::chrono::minutes(10)};
  std::chrono::milliseconds host_ttl{std::chrono::minutes(2)};
  std::chrono::milliseconds gc_interval{std::chrono::seconds(10)};
  // A holder of a persistent cache task not heard of for this long is gone (its task is
  // replicated again). Holders announce their tasks every dfdaemon announce interval (30s by
  // default): keep this at 3 intervals or more.
  std::chrono::milliseconds persistent_cache_holder_ttl{std::chrono::seconds(100)};
  // Bounds on what clients can make the scheduler hold (ResourceExhausted beyond them; an
  // already known host, task or peer always passes).
  uint32_t max_hosts = 10000;
  uint32_t max_tasks = 100000;
  uint32_t max_peers_per_task = 10000;
  uint32_t max_peers_per_host = 1000;  // tasks one host has registered at once
  // How long the piece token handed out with each registration stays valid: the peer opens its
  // connections with it right away, so minutes are plenty; a stolen one is soon useless.
  std::chrono::milliseconds piece_token_ttl{std::chrono::minutes(10)};
  // Not in YAML.
  uint32_t max_succeeded_peers_per_task = 300;
  uint32_t default_upload_slots = 4;  // used when a host announces upload_slots = 0
  std::chrono::milliseconds seed_trigger_timeout{std::chrono::seconds(5)};
  bool operator==(const SchedulerOptions&) const = default;
};

// Who this scheduler is, as told to the manager. YAML section `host`.
struct HostIdentity {
  std::string hostname;  // default: gethostname()
  std::string ip;        // default: the server.listen host, or this host's first IPv4 address
  std::string idc;
  std::string location;  // "country|province|city|..."
  bool operator==(const HostIdentity&) const = default;
};

// The manager connection. YAML section `manager`.
struct ManagerOptions {
  std::string addr;         // host:port of the manager's gRPC; empty = no manager
  uint64_t cluster_id = 1;  // the scheduler cluster this scheduler belongs to (0 = default)
  std::chrono::milliseconds keep_alive_interval{std::chrono::seconds(2)};
  std::string token;  // the manager's auth.componentToken, when it requires one
  bool operator==(const ManagerOptions&) const = default;
};

struct SchedulerConfig {
  std::string listen = "127.0.0.1:8002";          // server.listen (gRPC)
  std::string metrics_listen = "127.0.0.1:8000";  // metrics.listen; empty = disabled
  std::string log_level = "info";                 // log.level
  std::string log_format = "text";                // log.format: text or json
  SchedulerOptions scheduler;
  HostIdentity host;
  ManagerOptions manager;
  security::TlsSettings tls;       // security
  tracing::TracingConfig tracing;  // tracing (OTLP); off without an endpoint
  bool operator==(const SchedulerConfig&) const = default;
};

// Reads a loaded YAML document (null = all defaults) and validates it.
StatusOr<SchedulerConfig> ParseSchedulerConfig(const YAML::Node& root);

// Loads `path`. A missing file is NotFound unless `allow_missing`, which gives the defaults.
StatusOr<SchedulerConfig> LoadSchedulerConfig(const std::string& path, bool allow_missing = false);

// The full default config with a comment on every key (deploy/config/scheduler.yaml: what
// `scheduler config defaults` prints and the package installs); it parses to the defaults.
std::string_view DefaultConfigYaml();

using net::HostPort;
using net::SplitHostPort;  // "127.0.0.1:8002", "[::1]:8002", "localhost:0"

}  // namespace df::scheduler
